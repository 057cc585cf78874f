import { ConfigError } from "../errors.js";
import { IndexedPartitionTable } from "./IndexedPartitionTable.js";
import { rendezvousKeys } from "./rendezvousKeys.js";
import { resolveOptions, type ResolvedPlacementOptions } from "./resolveOptions.js";
import { sortedMembers } from "./sortedMembers.js";
import type { PartitionTable, PlacementOptions, PlacementView } from "./types.js";

/** What `computeTable` and `rebalance` start from: the members in rank order, their weights and the P·N rendezvous keys. */
export interface PlacementInputs extends ResolvedPlacementOptions {
  readonly ids: readonly string[];
  readonly weights: Float64Array;
  readonly keys: Float64Array;
}

/**
 * Validates the view and resolves the options; with no members, returns the empty table
 * (`ownerOf` throws `NoWorkersError`) instead of inputs.
 * @example
 * ```ts
 * const inputs = placementInputs({ epoch: 1, members: [{ id: "n1" }] });
 * if ("keys" in inputs) console.log(inputs.keys.length); // 1024 (P · N)
 * ```
 */
export function placementInputs(view: PlacementView, options?: Partial<PlacementOptions>): PlacementInputs | PartitionTable {
  const resolved = resolveOptions(options);
  if (!Number.isSafeInteger(view.epoch) || view.epoch < 0) {
    throw new ConfigError(`placement: epoch must be a non-negative integer; got ${String(view.epoch)}`);
  }
  const members = sortedMembers(view.members);
  const ids = members.map((m) => m.id);
  if (ids.length === 0) return new IndexedPartitionTable(view.epoch, resolved.partitions, ids, new Uint16Array(0), new Uint16Array(0), 0);
  const weights = Float64Array.from(members, (m) => m.capacity ?? 1);
  return { ...resolved, ids, weights, keys: rendezvousKeys(ids, weights, resolved.partitions) };
}
