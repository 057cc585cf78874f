import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "../errors.js";
import { isPidAlive, readCommandLine } from "../harness/processes.js";

/** Where `berth dev` records the cluster it runs, relative to the project folder. */
export const DEV_STATE_FILE = ".berth/dev/cluster.json";

/** What `berth dev` records about the cluster it runs. */
export interface DevState {
  readonly urls: readonly string[];
  readonly cluster: string;
  readonly pid: number;
  readonly gateway?: string;
}

/** Reads `.berth/dev/cluster.json` if a `berth dev` started from `dir` is still running. */
export function readDevState(dir = process.cwd()): DevState | null {
  const file = resolve(dir, DEV_STATE_FILE);
  if (!existsSync(file)) return null;
  let state: DevState;
  try {
    state = JSON.parse(readFileSync(file, "utf8")) as DevState;
  } catch {
    return null; // unreadable: treated as stale
  }
  if (!Number.isInteger(state.pid) || state.pid <= 0 || !isPidAlive(state.pid)) return null; // stale: that berth dev is gone
  // A reused PID: the process there now is no `berth dev`.
  const argv = readCommandLine(state.pid);
  if (argv !== undefined && !argv.includes("dev")) return null;
  return state;
}

/**
 * The NATS servers to use: `flag` (a comma-separated list, e.g. `berth node --nats`), else
 * `NATS_URL`, else the `berth dev` cluster running from `dir` (read from
 * `.berth/dev/cluster.json`). Throws a `ConfigError` naming all three when none is set.
 *
 * @param flag an explicit list; `undefined` to fall back to `NATS_URL` and `berth dev`
 * @param dir the project folder `berth dev` runs from (default: the current directory)
 * @example
 * ```ts
 * // a script next to `npm start` (berth dev): joins that cluster as a gateway
 * const node = await createNode({ actors: [Counter], nats: { servers: resolveNatsUrls(undefined) }, roles: ["gateway"] });
 * ```
 */
export function resolveNatsUrls(flag: string | undefined, dir = process.cwd()): string[] {
  const raw = flag ?? process.env.NATS_URL ?? readDevState(dir)?.urls.join(",");
  if (raw === undefined || raw.trim() === "") {
    throw new ConfigError("no NATS servers: pass --nats nats://host:4222[,nats://...], set NATS_URL, or start `berth dev` in this folder");
  }
  return raw.split(",").map((s) => s.trim()).filter(Boolean);
}
