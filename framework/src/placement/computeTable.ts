import { boundedAssign, capsFor } from "./boundedAssign.js";
import { IndexedPartitionTable } from "./IndexedPartitionTable.js";
import { placementInputs } from "./placementInputs.js";
import type { PartitionTable, PlacementOptions, PlacementView } from "./types.js";

/**
 * Computes the partition table of a cluster view. Pure and deterministic: every node that
 * runs it on the same view (members in any order) and the same options gets the same table.
 * It is memoryless, so with bounded load a change of view also moves a few partitions of
 * members that stayed; a running cluster stores its table and derives the next one with
 * `rebalance`, which moves only what the change requires.
 *
 * - **Owner**: rendezvous hashing with bounded load. Each partition ranks the members by a
 *   weighted rendezvous key (`rendezvousKeys`); owners are the stable matching of that
 *   ranking under the cap ⌈c·P·wᵢ/Σw⌉ (`boundedAssign`) — in effect, all (partition, member)
 *   pairs are taken best key first and a member stops accepting at its cap.
 * - **First backup**: the partition's owner in the table of the view *without* its owner,
 *   so when a node leaves its partitions go to their first backups, which already hold them.
 *   Since members rank partitions independently, one node's partitions fall back on all the
 *   other nodes, not on one buddy.
 * - **Further backups**: the next members of the partition's rendezvous ranking.
 *
 * With no members the table is empty: `ownerOf` throws `NoWorkersError`, `backupsOf` and the
 * per-node lists return `[]`.
 *
 * Cost: O(P·N) keys, one bounded assignment, and one per member for the first backups
 * (each O(P) plus the few partitions the cap turns away): about 4–6 ms for P = 1024, N = 32 (`npm run bench -- --only placement`),
 * 0.4 s for P = 65536, N = 32. Memory: the table keeps 4·P·(1 + backups) bytes of indexes;
 * the keys (8·P·N bytes) are dropped once it is built.
 *
 * Moves (measured, c = 1.15, random ids, N = 2..32): a join moves on average 1.02×P/(N+1)
 * at P = 1024 and 1.00× at P = 4096, at most ~1.3×. The excess is the newcomer's random
 * share plus a few partitions the cap displaces (mean 0.9 per change at P = 1024); a leave
 * moves the leaver's partitions to their first backups plus those few. Keep P ≥ 32·N: at
 * 8 partitions per node (P = 256, N = 32) the cap's rounding (10 → 9 per node) forces ~6
 * extra moves per join.
 *
 * @param view the epoch and the live worker nodes
 * @param options `partitions` (default 1024), `backups` (default 1), `loadFactor` (default 1.15)
 * @throws ConfigError for invalid options, an invalid epoch, or an empty, duplicate or
 *   badly weighted member id
 * @example
 * ```ts
 * const table = computeTable({ epoch: 7, members: [{ id: "n1" }, { id: "n2" }, { id: "n3", capacity: 2 }] });
 * table.ownerOf(partitionOf("session-42", table.partitions)); // "n1", "n2" or "n3"
 * table.backupsOf(0); // [the node that takes partition 0 over if its owner leaves]
 * ```
 */
export function computeTable(view: PlacementView, options?: Partial<PlacementOptions>): PartitionTable {
  const inputs = placementInputs(view, options);
  if (!("keys" in inputs)) return inputs; // no members: the empty table
  const { partitions, backups, loadFactor, ids, weights, keys } = inputs;
  const n = ids.length;
  const [top1, top2] = topTwo(keys, n, partitions);
  const owner = boundedAssign({ keys, members: n, partitions, caps: capsFor(weights, loadFactor, partitions, -1), excluded: -1, first: top1 });

  const width = Math.min(backups, n - 1);
  const backup = new Uint16Array(partitions * width);
  if (width > 0) {
    // First backup = owner in the view without the owner: one bounded assignment per member.
    const first = new Int32Array(partitions);
    for (let x = 0; x < n; x++) {
      let owns = false;
      for (let p = 0; p < partitions; p++) {
        first[p] = top1[p] === x ? (top2[p] as number) : (top1[p] as number);
        if (owner[p] === x) owns = true;
      }
      if (!owns) continue;
      const without = boundedAssign({ keys, members: n, partitions, caps: capsFor(weights, loadFactor, partitions, x), excluded: x, first });
      for (let p = 0; p < partitions; p++) if (owner[p] === x) backup[p * width] = without[p] as number;
    }
    if (width > 1) nextInRanking(keys, n, partitions, owner, backup, width);
  }
  return new IndexedPartitionTable(view.epoch, partitions, ids, Uint16Array.from(owner), backup, width);
}

/** Each partition's best and second-best member (second is -1 with one member). */
function topTwo(keys: Float64Array, n: number, partitions: number): [Int32Array, Int32Array] {
  const top1 = new Int32Array(partitions);
  const top2 = new Int32Array(partitions).fill(-1);
  for (let p = 0; p < partitions; p++) {
    const row = p * n;
    let a = 0;
    let b = -1;
    for (let m = 1; m < n; m++) {
      const k = keys[row + m] as number;
      // Strict "<": on equal keys the lower member index ranks first.
      if (k < (keys[row + a] as number)) {
        b = a;
        a = m;
      } else if (b < 0 || k < (keys[row + b] as number)) {
        b = m;
      }
    }
    top1[p] = a;
    top2[p] = b;
  }
  return [top1, top2];
}

/** Fills backup slots 1..width-1 with the best-ranked members not yet owner or backup. */
function nextInRanking(keys: Float64Array, n: number, partitions: number, owner: Int32Array, backup: Uint16Array, width: number): void {
  for (let p = 0; p < partitions; p++) {
    const row = p * n;
    const slots = p * width;
    for (let k = 1; k < width; k++) {
      let best = -1;
      for (let m = 0; m < n; m++) {
        if (m === owner[p] || chosen(backup, slots, k, m)) continue;
        if (best < 0 || (keys[row + m] as number) < (keys[row + best] as number)) best = m;
      }
      backup[slots + k] = best;
    }
  }
}

function chosen(backup: Uint16Array, slots: number, count: number, member: number): boolean {
  for (let k = 0; k < count; k++) if (backup[slots + k] === member) return true;
  return false;
}
