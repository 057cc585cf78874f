import type { PartitionTable } from "./types.js";

/** A previous table translated into the member indexes of a new view. */
export interface CarriedTable {
  /** Each partition's previous owner, or -1 if it is not in the new view. */
  readonly owner: Int32Array;
  /** `width` slots per partition: its previous backups in order, -1 for one that left (or an empty slot). */
  readonly backups: Int32Array;
  readonly width: number;
  /** How many previous members are in the new view. */
  readonly common: number;
}

/**
 * Reads a previous table (through the `PartitionTable` interface, so any implementation will
 * do) in terms of the new view's sorted member ids.
 * @param previous a table with at least one member
 * @param ids the new view's member ids, sorted
 * @example
 * ```ts
 * const before = computeTable({ epoch: 1, members: [{ id: "a" }, { id: "b" }] }, { partitions: 4 });
 * carryOver(before, ["b", "c"]); // owner: 1 where "a" owned, 0 where "b" did; common: 1
 * ```
 */
export function carryOver(previous: PartitionTable, ids: readonly string[]): CarriedTable {
  const index = new Map(ids.map((id, i) => [id, i]));
  const partitions = previous.partitions;
  const owner = new Int32Array(partitions);
  const rows: (readonly string[])[] = [];
  let width = 0;
  for (let p = 0; p < partitions; p++) {
    owner[p] = index.get(previous.ownerOf(p)) ?? -1;
    const row = previous.backupsOf(p);
    rows.push(row);
    if (row.length > width) width = row.length;
  }
  const backups = new Int32Array(partitions * width).fill(-1);
  for (let p = 0; p < partitions; p++) {
    const row = rows[p] as readonly string[];
    for (let k = 0; k < row.length; k++) backups[p * width + k] = index.get(row[k] as string) ?? -1;
  }
  let common = 0;
  for (const id of previous.members) if (index.has(id)) common++;
  return { owner, backups, width, common };
}
