import { ConfigError } from "../errors.js";
import type { PartitionMove, PartitionTable } from "./types.js";

/**
 * The partitions whose owner differs between two tables, ascending by partition. Backup
 * changes are not moves. `before = null` (or an empty `before`) gives every partition with
 * `from: null`; an empty `after` gives `[]`, since there is no node to move to.
 * @param before the previous table, or null for the first one
 * @param after the new table
 * @throws ConfigError if the two tables have different partition counts
 * @example
 * ```ts
 * const before = computeTable({ epoch: 1, members: [{ id: "a" }, { id: "b" }] });
 * const after = computeTable({ epoch: 2, members: [{ id: "a" }, { id: "b" }, { id: "c" }] });
 * diffTables(before, after); // about 1024/3 moves, every one { from: "a" | "b", to: "c" }
 * ```
 */
export function diffTables(before: PartitionTable | null, after: PartitionTable): PartitionMove[] {
  if (before !== null && before.partitions !== after.partitions) {
    throw new ConfigError(
      `placement: cannot diff tables with ${before.partitions} and ${after.partitions} partitions; ` +
        `the partition count is a cluster-wide constant`,
    );
  }
  const moves: PartitionMove[] = [];
  if (after.members.length === 0) return moves;
  const hadOwners = before !== null && before.members.length > 0;
  for (let p = 0; p < after.partitions; p++) {
    const to = after.ownerOf(p);
    const from = hadOwners ? before.ownerOf(p) : null;
    if (from !== to) moves.push({ partition: p, from, to });
  }
  return moves;
}
