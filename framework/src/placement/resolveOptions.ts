import { ConfigError } from "../errors.js";
import type { PlacementOptions } from "./types.js";

/** Placement options with every default filled in. */
export type ResolvedPlacementOptions = Required<PlacementOptions>;

/**
 * The defaults: 1024 partitions, one backup, load factor 1.15. With c = 1.15 the cap
 * ⌈c·P/N⌉ keeps max/avg ≤ 1.25 for every P ≥ 256 and N ≤ 32 (the worst case, P = 256 and
 * N = 32, is exactly 10/8); c = 1.2 already reaches 11/8.53 = 1.29 at P = 256, N = 30.
 */
export const DEFAULT_PLACEMENT_OPTIONS: ResolvedPlacementOptions = Object.freeze({
  partitions: 1024,
  backups: 1,
  loadFactor: 1.15,
});

/**
 * Merges placement options with the defaults and validates them, in one place.
 * @param options partial options; missing or `undefined` fields take the defaults
 * @throws ConfigError naming the bad option and the allowed range
 * @example resolveOptions({ partitions: 256 }) // { partitions: 256, backups: 1, loadFactor: 1.15 }
 */
export function resolveOptions(options: Partial<PlacementOptions> = {}): ResolvedPlacementOptions {
  const partitions = options.partitions ?? DEFAULT_PLACEMENT_OPTIONS.partitions;
  const backups = options.backups ?? DEFAULT_PLACEMENT_OPTIONS.backups;
  const loadFactor = options.loadFactor ?? DEFAULT_PLACEMENT_OPTIONS.loadFactor;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65536) {
    throw new ConfigError(`placement: partitions must be an integer from 1 to 65536; got ${String(partitions)}`);
  }
  if (!Number.isInteger(backups) || backups < 0 || backups > 255) {
    throw new ConfigError(`placement: backups must be an integer from 0 to 255; got ${String(backups)}`);
  }
  if (typeof loadFactor !== "number" || !(loadFactor >= 1 && loadFactor <= 2)) {
    throw new ConfigError(`placement: loadFactor must be a number from 1.0 to 2.0 (1.15 is the default); got ${String(loadFactor)}`);
  }
  return { partitions, backups, loadFactor };
}
