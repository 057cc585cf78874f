import { moreLoaded, moveTo, type Ownership } from "./ownership.js";

/**
 * Brings every member down to its cap: while one owns more than `cap[i]` partitions, the most
 * loaded of them (relative to weight) gives one to the least-loaded member under its fair
 * share — the partition that member ranks highest. The moves are exactly the excess over the
 * caps, and a receiver always exists: the caps are ≥ the fair shares, which sum to P.
 * Rarely needed: only when a view adds several removals at once or changes capacities.
 * @param own the ownership to change
 * @param keys rendezvous keys, `keys[p * n + i]`
 * @param weights member capacities
 * @param cap each member's cap
 * @param target each member's fair share P·wᵢ/Σw
 * @returns the number of partitions moved
 * @example shedOverloaded(own, keys, weights, shares.cap, shares.target) // 0 when no one is over its cap
 */
export function shedOverloaded(own: Ownership, keys: Float64Array, weights: Float64Array, cap: Int32Array, target: Float64Array): number {
  const { owner, load } = own;
  const n = load.length;
  const over = (m: number): boolean => (load[m] as number) > (cap[m] as number);
  let any = false;
  for (let m = 0; m < n && !any; m++) any = over(m);
  if (!any) return 0;

  // Each member's partitions, with each partition's position for O(1) removal.
  const owned: number[][] = Array.from({ length: n }, () => []);
  const position = new Int32Array(owner.length);
  for (let p = 0; p < owner.length; p++) {
    const list = owned[owner[p] as number] as number[];
    position[p] = list.length;
    list.push(p);
  }

  let moved = 0;
  for (;;) {
    let donor = -1;
    for (let m = 0; m < n; m++) if (over(m) && (donor < 0 || moreLoaded(own, weights, m, donor))) donor = m;
    if (donor < 0) break;
    let to = -1;
    for (let m = 0; m < n; m++) {
      if (m !== donor && (load[m] as number) < (target[m] as number) && (to < 0 || moreLoaded(own, weights, to, m))) to = m;
    }
    if (to < 0) break; // unreachable: Σ load = P = Σ target, and the donor is above its target
    const list = owned[donor] as number[];
    let pick = list[0] as number;
    for (const p of list) {
      const k = keys[p * n + to] as number;
      const best = keys[pick * n + to] as number;
      if (k < best || (k === best && p < pick)) pick = p;
    }
    // Swap-remove from the donor's list, append to the receiver's.
    const last = list.pop() as number;
    if (last !== pick) {
      list[position[pick] as number] = last;
      position[last] = position[pick] as number;
    }
    const dest = owned[to] as number[];
    position[pick] = dest.length;
    dest.push(pick);
    moveTo(own, pick, to);
    moved++;
  }
  return moved;
}
