/**
 * Bounded-load rendezvous assignment: the unique stable matching between partitions and
 * members when both sides rank each other by the same rendezvous key (see `rendezvousKeys`)
 * and member i accepts at most `caps[i]` partitions.
 *
 * Equivalently: take all (partition, member) pairs by ascending key and give the partition
 * to the member if the partition is still free and the member is below its cap. That greedy
 * never looks at partition numbers, so there is no "partition 0 first" cascade, and its
 * result is a function of the member *set*. We compute it by deferred acceptance
 * (partitions propose down their ranking, a full member keeps its best-keyed partitions),
 * which reaches the same matching in O(P + rejections·N) instead of sorting P·N pairs.
 *
 * Ties are broken by partition, then member index, so the order of all pairs is total and
 * the same whichever members are left out: that is what lets `computeTable` get each
 * partition's failover owner from runs that exclude one member.
 */

/** The rendezvous ranking of a partition over the members, and the caps to honour. */
export interface AssignInput {
  readonly keys: Float64Array;
  readonly members: number;
  readonly partitions: number;
  /** Per-member cap; ignored for `excluded`. The caps of included members must sum to ≥ P. */
  readonly caps: Int32Array;
  /** A member index to leave out (the view without that member), or -1. */
  readonly excluded: number;
  /** Each partition's best-ranked member, not `excluded`. */
  readonly first: Int32Array;
}

/**
 * The bounded-load stable assignment.
 * @returns the owner's member index for each partition
 * @example
 * ```ts
 * const weights = new Float64Array([1, 1]);
 * const keys = rendezvousKeys(["a", "b"], weights, 4);
 * const first = Int32Array.from([0, 1, 2, 3], (p) => (keys[2 * p]! <= keys[2 * p + 1]! ? 0 : 1));
 * boundedAssign({ keys, members: 2, partitions: 4, caps: capsFor(weights, 1.15, 4, -1), excluded: -1, first });
 * // Int32Array of 4 member indexes, each member at most ⌈1.15·4/2⌉ = 3 times
 * ```
 */
export function boundedAssign(input: AssignInput): Int32Array {
  const { keys, members: n, partitions, caps, excluded, first } = input;
  const owner = new Int32Array(partitions).fill(-1);
  const load = new Int32Array(n);
  // Partitions held by each member; turned into a max-heap (worst key on top) the first time
  // the member is full and must compare a newcomer with its worst.
  const held: number[][] = Array.from({ length: n }, () => []);
  const isHeap = new Uint8Array(n);
  const last = new Int32Array(partitions); // the member each partition proposed to last

  // (key, partition) order of two partitions at member m: true if p is worse than q.
  const worse = (p: number, q: number, m: number): boolean => {
    const kp = keys[p * n + m] as number;
    const kq = keys[q * n + m] as number;
    return kp > kq || (kp === kq && p > q);
  };
  const siftDown = (heap: number[], m: number, start: number): void => {
    let i = start;
    const top = heap[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && worse(heap[r] as number, heap[l] as number, m) ? r : l;
      if (!worse(heap[c] as number, top, m)) break;
      heap[i] = heap[c] as number;
      i = c;
    }
    heap[i] = top;
  };
  const siftUp = (heap: number[], m: number, start: number): void => {
    let i = start;
    const item = heap[i] as number;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(item, heap[parent] as number, m)) break;
      heap[i] = heap[parent] as number;
      i = parent;
    }
    heap[i] = item;
  };
  // The member ranked just after `last[p]` in p's ranking, skipping `excluded`.
  const next = (p: number): number => {
    const row = p * n;
    const m0 = last[p] as number;
    const k0 = keys[row + m0] as number;
    let best = -1;
    let bestKey = Infinity;
    for (let m = 0; m < n; m++) {
      if (m === excluded) continue;
      const k = keys[row + m] as number;
      if (k < k0 || (k === k0 && m <= m0)) continue; // ranked before (or is) the last proposal
      if (k < bestKey || (k === bestKey && m < best)) {
        best = m;
        bestKey = k;
      }
    }
    if (best < 0) throw new Error(`placement: partition ${p} was rejected by every member (caps sum below P)`);
    return best;
  };

  for (let start = 0; start < partitions; start++) {
    let p = start;
    let m = first[p] as number;
    last[p] = m;
    // p proposes down its ranking; an eviction hands the proposal over to the evicted partition.
    for (;;) {
      const heap = held[m] as number[];
      if ((load[m] as number) < (caps[m] as number)) {
        owner[p] = m;
        load[m] = (load[m] as number) + 1;
        heap.push(p);
        if (isHeap[m]) siftUp(heap, m, heap.length - 1);
        break;
      }
      if (!isHeap[m]) {
        for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, m, i);
        isHeap[m] = 1;
      }
      const worst = heap[0] as number;
      if (worse(worst, p, m)) {
        heap[0] = p;
        siftDown(heap, m, 0);
        owner[p] = m;
        owner[worst] = -1;
        p = worst;
      }
      m = next(p);
      last[p] = m;
    }
  }
  return owner;
}

/**
 * Each member's cap ⌈c·P·wᵢ/Σw⌉, the sum taken over the members other than `excluded` in
 * index order — exactly what `computeTable` computes for the view without that member.
 * @example capsFor(new Float64Array([1, 1, 2]), 1.15, 1024, -1) // Int32Array [295, 295, 589]
 */
export function capsFor(weights: Float64Array, loadFactor: number, partitions: number, excluded: number): Int32Array {
  let total = 0;
  for (let i = 0; i < weights.length; i++) if (i !== excluded) total += weights[i] as number;
  const caps = new Int32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    if (i !== excluded) caps[i] = Math.ceil((loadFactor * partitions * (weights[i] as number)) / total);
  }
  return caps;
}
