import { failover, rebalance, writeCost, writeLatency, writes } from "./cluster.js";
import { idleActorMemory, localCall, turnAppend, turnStateSize } from "./local.js";
import { httpSession } from "./httpSession.js";
import { placement } from "./placement.js";
import { remoteCall } from "./remote.js";
import type { Benchmark } from "./types.js";

/** Every benchmark, in the order `npm run bench` runs them. */
export const benchmarks: readonly Benchmark[] = [localCall, turnStateSize, turnAppend, idleActorMemory, placement, remoteCall, writes, writeCost, writeLatency, rebalance, failover, httpSession];
