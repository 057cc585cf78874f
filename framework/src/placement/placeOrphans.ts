import { moveTo, type Ownership } from "./ownership.js";

/**
 * Gives every partition without an owner (its owner left) a new one: its first backup if that
 * is still a member with room under its cap, else the next such backup, else the best-ranked
 * member with room. The first backup holds the partition's state already, and `assignBackups`
 * keeps every member's share of one owner's first backups within its headroom, so after a
 * single removal the first backup always has room: only the leaver's partitions move.
 * Partitions are placed in ascending order.
 * @param own the ownership to complete; orphans have owner -1
 * @param backups `width` previous backups per partition (member indexes, -1 = gone)
 * @param keys rendezvous keys, `keys[p * n + i]`
 * @param cap each member's cap
 * @returns the number of partitions placed
 * @example placeOrphans(ownershipOf(Int32Array.from([0, -1]), 2), Int32Array.from([1, 1]), 1, keys, caps) // 1
 */
export function placeOrphans(own: Ownership, backups: Int32Array, width: number, keys: Float64Array, cap: Int32Array): number {
  const { owner, load } = own;
  const n = load.length;
  let placed = 0;
  for (let p = 0; p < owner.length; p++) {
    if ((owner[p] as number) >= 0) continue;
    let to = -1;
    for (let k = 0; k < width && to < 0; k++) {
      const b = backups[p * width + k] as number;
      if (b >= 0 && (load[b] as number) < (cap[b] as number)) to = b;
    }
    if (to < 0) to = bestRanked(keys, n, p, (m) => (load[m] as number) < (cap[m] as number));
    if (to < 0) to = bestRanked(keys, n, p, () => true); // unreachable: the caps sum to at least P
    moveTo(own, p, to);
    placed++;
  }
  return placed;
}

/** The member with the smallest key for partition p among those `allowed` (ties: lower index), or -1. */
function bestRanked(keys: Float64Array, n: number, p: number, allowed: (m: number) => boolean): number {
  let best = -1;
  for (let m = 0; m < n; m++) {
    if (allowed(m) && (best < 0 || (keys[p * n + m] as number) < (keys[p * n + best] as number))) best = m;
  }
  return best;
}
