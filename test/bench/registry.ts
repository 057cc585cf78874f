import { idleActorMemory, localCall } from "./local.js";
import { remoteCall } from "./remote.js";
import type { Benchmark } from "./types.js";

/** Every benchmark, in the order `npm run bench` runs them. */
export const benchmarks: readonly Benchmark[] = [localCall, idleActorMemory, remoteCall];
