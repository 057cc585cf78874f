import { computeTable, rebalance } from "../../framework/src/placement/index.js";
import { rendezvousKeys } from "../../framework/src/placement/rendezvousKeys.js";
import { median, round } from "./measure.js";
import type { Benchmark } from "./types.js";

/**
 * `placement`: computing the partition table for P = 1024, N = 32 (the first table, a join and
 * a removal through `rebalance`), against the bare rendezvous keys the table is built from
 * (P·N hashes: the least any placement of this kind must do), measured in the same run.
 * Target: each well under 50 ms (a view change recomputes it on every node).
 */
export const placement: Benchmark = {
  name: "placement",
  async run() {
    const partitions = 1024;
    const ids = Array.from({ length: 33 }, (_, i) => `worker-${i}.berth.internal`);
    const view = (xs: readonly string[], epoch: number) => ({ epoch, members: xs.map((id) => ({ id })) });
    const time = (f: () => unknown): number => {
      for (let i = 0; i < 3; i++) f(); // warm up the JIT
      const times = Array.from({ length: 9 }, () => {
        const start = performance.now();
        f();
        return performance.now() - start;
      });
      return median(times);
    };
    const weights = new Float64Array(32).fill(1);
    const keys = time(() => rendezvousKeys(ids.slice(0, 32), weights, partitions));
    const table = time(() => computeTable(view(ids.slice(0, 32), 1), { partitions }));
    const base = rebalance(null, view(ids.slice(0, 32), 1), { partitions });
    const first = time(() => rebalance(null, view(ids.slice(0, 32), 1), { partitions }));
    const join = time(() => rebalance(base, view(ids, 2), { partitions }));
    const removal = time(() => rebalance(base, view(ids.slice(1, 32), 2), { partitions }));
    return [
      {
        name: "placement",
        partitions,
        members: 32,
        keysMs: round(keys, 2),
        computeTableMs: round(table, 2),
        rebalanceFirstMs: round(first, 2),
        rebalanceJoinMs: round(join, 2),
        rebalanceRemovalMs: round(removal, 2),
        computeTableOverKeys: round(table / keys, 2),
        slowestUnder50ms: Math.max(table, first, join, removal) < 50,
      },
    ];
  },
};
