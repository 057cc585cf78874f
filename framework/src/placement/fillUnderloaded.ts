import { equallyLoaded, moreLoaded, moveTo, type Ownership } from "./ownership.js";

/**
 * Fills every member that owns fewer than `below[j]` partitions (a newcomer, for one) up to
 * `upTo[j]`, one partition at a time, taking each from the most-loaded member (relative to
 * weight). Among equally loaded donors the receiver takes the partition it ranks highest, and
 * from a donor it always takes the donor's partition it ranks highest: the moves are the
 * minimum (exactly the receivers' deficits) and follow rendezvous ranking. With several
 * receivers the least-loaded is served first, so they fill up together.
 * @param own the ownership to change
 * @param keys rendezvous keys, `keys[p * n + i]`
 * @param weights member capacities
 * @param below a member is a receiver if its load is below this
 * @param upTo a receiver is filled up to this (≤ its fair share)
 * @returns the number of partitions moved
 * @example
 * ```ts
 * // a newcomer (index 2, load 0) gets ⌊P/3⌋ partitions from the two others
 * fillUnderloaded(own, keys, weights, shares.lower, shares.floor);
 * ```
 */
export function fillUnderloaded(own: Ownership, keys: Float64Array, weights: Float64Array, below: Int32Array, upTo: Int32Array): number {
  const { owner, load } = own;
  const n = load.length;
  const receiving = new Uint8Array(n);
  let any = false;
  for (let j = 0; j < n; j++) {
    if ((load[j] as number) < (below[j] as number)) {
      receiving[j] = 1;
      any = true;
    }
  }
  if (!any) return 0;

  // Per receiver (built on first use): each donor's partitions, best-ranked by the receiver first.
  const lists: (number[][] | undefined)[] = new Array(n);
  const cursors: (Int32Array | undefined)[] = new Array(n);
  const listsFor = (j: number): number[][] => {
    let perDonor = lists[j];
    if (perDonor === undefined) {
      const order: number[] = [];
      for (let p = 0; p < owner.length; p++) if (!receiving[owner[p] as number]) order.push(p);
      order.sort((a, b) => (keys[a * n + j] as number) - (keys[b * n + j] as number) || a - b);
      perDonor = Array.from({ length: n }, () => []);
      for (const p of order) (perDonor[owner[p] as number] as number[]).push(p);
      lists[j] = perDonor;
      cursors[j] = new Int32Array(n);
    }
    return perDonor;
  };
  // The donor's best partition for j that it still owns (donors only lose partitions), or -1.
  const nextOf = (j: number, donor: number): number => {
    const list = (listsFor(j)[donor] as number[]);
    const cursor = cursors[j] as Int32Array;
    let c = cursor[donor] as number;
    while (c < list.length && owner[list[c] as number] !== donor) c++;
    cursor[donor] = c;
    return c < list.length ? (list[c] as number) : -1;
  };

  const done = new Uint8Array(n);
  let moved = 0;
  for (;;) {
    let j = -1;
    for (let m = 0; m < n; m++) {
      if (receiving[m] && !done[m] && (load[m] as number) < (upTo[m] as number) && (j < 0 || moreLoaded(own, weights, j, m))) j = m;
    }
    if (j < 0) break;
    let donor = -1;
    let pick = -1;
    for (let m = 0; m < n; m++) {
      if (receiving[m] || (load[m] as number) === 0) continue;
      if (donor >= 0 && !moreLoaded(own, weights, m, donor)) {
        if (!equallyLoaded(own, weights, m, donor)) continue;
        const p = nextOf(j, m);
        if ((keys[p * n + j] as number) >= (keys[pick * n + j] as number)) continue;
        donor = m;
        pick = p;
        continue;
      }
      donor = m;
      pick = nextOf(j, m);
    }
    // Only a donor more loaded than the receiver helps (always true when j is under its share).
    if (donor < 0 || !moreLoaded(own, weights, donor, j)) {
      done[j] = 1;
      continue;
    }
    moveTo(own, pick, j);
    moved++;
  }
  return moved;
}
