import { hash64 } from "./partition.js";

/**
 * Rendezvous (HRW) keys for every (partition, member) pair: `keys[p * n + i]`, smaller is
 * better. Partition p ranks the members by their keys, and the owner is chosen from that
 * ranking (see `boundedAssign`).
 *
 * A key is the weighted-rendezvous key −ln(u)/w, where u ∈ (0, 1) is a hash of the pair and
 * w the member's capacity: member i then wins a partition with probability wᵢ/Σw.
 *
 * The u of one member are *stratified*: the member's P values of u hold exactly one value in
 * each stratum (r/P, (r+1)/P). Each member hashes the partitions into a pseudo-random
 * permutation and the partition of rank r gets u = (r + jitter)/P. A member can no longer
 * draw more good values than its share, which cuts the spread of plain HRW's load
 * (measured max/avg at P = 1024, N = 32: 1.41 instead of 1.66), so the bounded-load cap
 * binds less often and fewer partitions move when the view changes. A member's keys depend
 * only on its id, its capacity and P, never on the other members — the consistency that
 * rendezvous hashing is for.
 *
 * Hashing: the 64-bit xxhash of the id is computed once per member; each pair then costs
 * two rounds of murmur3's 32-bit finalizer (portable integer arithmetic, so another
 * language can reproduce the table).
 *
 * @param ids the member ids (their order is the member index)
 * @param weights the members' capacities, same order
 * @param partitions P, at most 65536
 * @example rendezvousKeys(["a", "b"], new Float64Array([1, 1]), 1024)[7 * 2 + 1] // key of (p7, "b")
 */
export function rendezvousKeys(ids: readonly string[], weights: Float64Array, partitions: number): Float64Array {
  const n = ids.length;
  const keys = new Float64Array(partitions * n);
  // Sort keys packing (order hash, partition) exactly into one double: < 2^48.
  const packed = new Float64Array(partitions);
  const jitter = new Float64Array(partitions);
  for (let i = 0; i < n; i++) {
    const seed = hash64(ids[i] as string);
    const lo = Number(seed & 0xffffffffn);
    const hi = Number(seed >> 32n);
    for (let p = 0; p < partitions; p++) {
      const a = fmix32(hi ^ Math.imul(p, 0x9e3779b1));
      const order = fmix32(lo ^ a);
      packed[p] = order * 65536 + p;
      jitter[p] = (fmix32(a ^ Math.imul(lo, 0x85ebca77)) + 0.5) / 4294967296;
    }
    packed.sort();
    const w = weights[i] as number;
    for (let rank = 0; rank < partitions; rank++) {
      const p = (packed[rank] as number) % 65536;
      keys[p * n + i] = -Math.log((rank + (jitter[p] as number)) / partitions) / w;
    }
  }
  return keys;
}

/**
 * murmur3's 32-bit finalizer: a bijection on uint32 with full avalanche.
 * @example fmix32(1) // a well-mixed uint32
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
