import { ConfigError, MalformedMessageError } from "../errors.js";
import { IndexedPartitionTable } from "./IndexedPartitionTable.js";
import type { PartitionTable, PlacementMember } from "./types.js";

/**
 * A partition table as compact JSON-able data, to store in the cluster view. Members are
 * indexes into the view's member ids sorted by UTF-16 code units (the ids travel with the
 * view, not here). About 2·P·(1 + width) to 3·P·(1 + width) bytes of JSON for N ≤ 100.
 */
export interface EncodedTable {
  /** Format version: 1. */
  readonly v: 1;
  readonly epoch: number;
  /** P. */
  readonly partitions: number;
  /** N, the number of member ids the indexes refer to. */
  readonly memberCount: number;
  /** Backups per partition. */
  readonly width: number;
  /** The owner of each partition (P entries; none when N = 0). */
  readonly owners: readonly number[];
  /** `width` backups per partition, partition by partition, first backup first. */
  readonly backups: readonly number[];
}

const FIELDS = new Set(["v", "epoch", "partitions", "memberCount", "width", "owners", "backups"]);

/**
 * Encodes a table for the cluster view.
 * @throws ConfigError if the table's partitions do not all have the same number of backups
 * @example
 * ```ts
 * const table = rebalance(null, { epoch: 3, members: [{ id: "b" }, { id: "a" }] }, { partitions: 4 });
 * encodeTable(table); // { v: 1, epoch: 3, partitions: 4, memberCount: 2, width: 1, owners: [0, 1, 0, 1], backups: [1, 0, 1, 0] }
 * // owners and backups index ["a", "b"]: partition 0 is owned by "a" and backed up by "b"
 * ```
 */
export function encodeTable(table: PartitionTable): EncodedTable {
  const n = table.members.length;
  const index = new Map(table.members.map((id, i) => [id, i]));
  const width = n === 0 ? 0 : table.backupsOf(0).length;
  const owners: number[] = [];
  const backups: number[] = [];
  if (n > 0) {
    for (let p = 0; p < table.partitions; p++) {
      owners.push(index.get(table.ownerOf(p)) as number);
      const row = table.backupsOf(p);
      if (row.length !== width) throw new ConfigError(`placement: partition ${p} has ${row.length} backups, partition 0 has ${width}; a table has one width`);
      for (const b of row) backups.push(index.get(b) as number);
    }
  }
  return { v: 1, epoch: table.epoch, partitions: table.partitions, memberCount: n, width, owners, backups };
}

/**
 * Decodes and validates a table read from the cluster view.
 * @param encoded the decoded JSON (anything: it is validated)
 * @param members the view's member ids (or members), in any order
 * @throws MalformedMessageError naming the first problem: not an object, an unknown field or
 *   version, a bad epoch, partition count or width, a member count that does not match
 *   `members`, an empty or duplicate member id, arrays of the wrong length, an index that is
 *   not an integer in 0..N-1, a backup equal to its owner, or a partition backed up twice by
 *   one member
 * @example
 * ```ts
 * const table = decodeTable(JSON.parse(json), view.members);
 * table.ownerOf(partitionOf("session-42", table.partitions));
 * ```
 */
export function decodeTable(encoded: unknown, members: readonly (string | PlacementMember)[]): PartitionTable {
  const bad = (detail: string): MalformedMessageError => new MalformedMessageError(`partition table: ${detail}`);
  if (typeof encoded !== "object" || encoded === null || Array.isArray(encoded)) throw bad("expected an object");
  for (const key of Object.keys(encoded)) if (!FIELDS.has(key)) throw bad(`unknown field ${JSON.stringify(key)}`);
  const e = encoded as Record<string, unknown>;
  if (e.v !== 1) throw bad(`unsupported version ${String(e.v)}; expected 1`);
  const { epoch, partitions, memberCount, width, owners, backups } = e;
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) throw bad(`epoch must be a non-negative integer; got ${String(epoch)}`);
  if (!Number.isInteger(partitions) || (partitions as number) < 1 || (partitions as number) > 65536) {
    throw bad(`partitions must be an integer from 1 to 65536; got ${String(partitions)}`);
  }
  if (!Array.isArray(members)) throw bad("the view's members must be an array");
  const ids = members.map((m) => (typeof m === "string" ? m : m?.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== "string" || ids[i] === "") throw bad(`member ids must be non-empty strings; got ${JSON.stringify(ids[i])}`);
    if (i > 0 && ids[i] === ids[i - 1]) throw bad(`duplicate member id ${JSON.stringify(ids[i])}`);
  }
  const n = ids.length;
  if (n > 65536) throw bad(`at most 65536 members; got ${n}`);
  if (memberCount !== n) throw bad(`the table is for ${String(memberCount)} members but the view has ${n}`);
  if (!Number.isInteger(width) || (width as number) < 0 || (width as number) > Math.max(0, n - 1)) {
    throw bad(`width must be an integer from 0 to ${Math.max(0, n - 1)} (N − 1); got ${String(width)}`);
  }
  const w = width as number;
  const p = partitions as number;
  const rows = n === 0 ? 0 : p;
  if (!Array.isArray(owners) || owners.length !== rows) throw bad(`owners must be an array of ${rows} member indexes`);
  if (!Array.isArray(backups) || backups.length !== rows * w) throw bad(`backups must be an array of ${rows * w} member indexes (${w} per partition)`);
  const isIndex = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) < n;
  const owner = new Uint16Array(rows);
  const backup = new Uint16Array(rows * w);
  for (let q = 0; q < rows; q++) {
    const o: unknown = owners[q];
    if (!isIndex(o)) throw bad(`owner of partition ${q} must be a member index from 0 to ${n - 1}; got ${JSON.stringify(o)}`);
    owner[q] = o;
    for (let k = 0; k < w; k++) {
      const b: unknown = backups[q * w + k];
      if (!isIndex(b)) throw bad(`backup ${k} of partition ${q} must be a member index from 0 to ${n - 1}; got ${JSON.stringify(b)}`);
      if (b === o) throw bad(`partition ${q} has its owner ${JSON.stringify(ids[o])} as a backup`);
      for (let s = 0; s < k; s++) if (backup[q * w + s] === b) throw bad(`partition ${q} has ${JSON.stringify(ids[b])} as a backup twice`);
      backup[q * w + k] = b;
    }
  }
  return new IndexedPartitionTable(epoch as number, p, ids as string[], owner, backup, w);
}
