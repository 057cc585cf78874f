/**
 * Partition → owner as member indexes, with each member's load, while a table is being built.
 * `owner[p]` is -1 for a partition that has no owner yet.
 */
export interface Ownership {
  readonly owner: Int32Array;
  readonly load: Int32Array;
}

/**
 * Wraps an owner array (-1 = no owner yet) and counts each member's load.
 * @example ownershipOf(Int32Array.from([0, 1, 1, -1]), 2).load // Int32Array [1, 2]
 */
export function ownershipOf(owner: Int32Array, members: number): Ownership {
  const load = new Int32Array(members);
  for (const m of owner) if (m >= 0) load[m] = (load[m] as number) + 1;
  return { owner, load };
}

/**
 * Gives partition `p` to member `to` and updates both loads.
 * @example moveTo(own, 7, 2) // own.owner[7] === 2, one more in own.load[2], one less for the old owner
 */
export function moveTo(own: Ownership, p: number, to: number): void {
  const from = own.owner[p] as number;
  if (from >= 0) own.load[from] = (own.load[from] as number) - 1;
  own.owner[p] = to;
  own.load[to] = (own.load[to] as number) + 1;
}

/**
 * True if member a is more loaded than member b relative to their weights (loadₐ/wₐ > load_b/w_b).
 * @example moreLoaded(ownershipOf(Int32Array.from([0, 0, 1]), 2), new Float64Array([1, 1]), 0, 1) // true
 */
export function moreLoaded(own: Ownership, weights: Float64Array, a: number, b: number): boolean {
  return (own.load[a] as number) * (weights[b] as number) > (own.load[b] as number) * (weights[a] as number);
}

/**
 * True if members a and b are equally loaded relative to their weights.
 * @example equallyLoaded(ownershipOf(Int32Array.from([0, 0, 1]), 2), new Float64Array([2, 1]), 0, 1) // true
 */
export function equallyLoaded(own: Ownership, weights: Float64Array, a: number, b: number): boolean {
  return (own.load[a] as number) * (weights[b] as number) === (own.load[b] as number) * (weights[a] as number);
}
