/** What `firstBackupCounts` needs to know about one owner and the other members. */
export interface CountInput {
  /** The owner X (a member index). */
  readonly owner: number;
  /** |X|: how many partitions X owns. */
  readonly owned: number;
  readonly weights: Float64Array;
  /** Σw over all members. */
  readonly total: number;
  /** Each member's cap in the view without X. */
  readonly capWithout: Int32Array;
  /** Each member's "far under" threshold in the view without X (`Shares.lower`). */
  readonly lowerWithout: Int32Array;
  /** Each member's load (partitions owned) in the new table. */
  readonly load: Int32Array;
  /** Per member: how many of X's partitions it can keep as first backup (it already holds them). */
  readonly kept: Int32Array;
  /** Per member: how many of those it already backs up first (the rest it would be promoted to). */
  readonly firm: Int32Array;
  /** Per member: a tie-break rank for X (smaller first), the same on every node. */
  readonly tie: Uint32Array;
}

/**
 * How many of owner X's partitions each other member backs up first. These are the partitions
 * member i takes over if X leaves, so the counts decide both the failover spread and whether
 * that failover fits under the caps.
 *
 * - Spread: member i gets ⌊qᵢ⌋ or ⌈qᵢ⌉ with qᵢ = |X|·wᵢ/(Σw − w_X) (|X|/(N−1) for equal
 *   weights), so X's removal sends each survivor its share and no more.
 * - Headroom: if possible, i gets at most `capWithout[i] − load[i]`, so that after X leaves i
 *   is still within its cap, and at least `lowerWithout[i] − load[i]`, so that i is not far
 *   under its new share: then X's removal moves nothing but X's partitions. Where these
 *   bounds and the spread disagree, the ceiling ⌈qᵢ⌉ wins over the headroom, which wins over
 *   the lower bound, which wins over the floor ⌊qᵢ⌋.
 * - Stability: a member keeps the backups it already holds as far as these rules allow,
 *   first backups before copies it would be promoted to.
 * - The members that get ⌈qᵢ⌉ (and so, on X's removal, one more partition) are those with
 *   the most headroom per unit of weight, ties by `tie`.
 *
 * @returns the count per member (0 for X); they sum to |X|
 * @example
 * ```ts
 * // 3 members of weight 1, X = 0 owns 5 partitions, nobody near a bound, nothing kept:
 * firstBackupCounts({ owner: 0, owned: 5, weights, total: 3, capWithout, lowerWithout, load, kept, firm, tie });
 * // Int32Array [0, 3, 2] or [0, 2, 3], by headroom, then by tie
 * ```
 */
export function firstBackupCounts(input: CountInput): Int32Array {
  const { owner: x, owned, weights, total, capWithout, lowerWithout, load, kept, firm, tie } = input;
  const n = weights.length;
  const rest = total - (weights[x] as number);
  const count = new Int32Array(n);
  const lo = new Int32Array(n);
  const need = new Int32Array(n);
  const hi = new Int32Array(n);
  const ceil = new Int32Array(n);
  const room = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (i === x) continue;
    const q = (owned * (weights[i] as number)) / rest;
    ceil[i] = Math.ceil(q);
    room[i] = (capWithout[i] as number) - (load[i] as number);
    hi[i] = Math.max(0, Math.min(ceil[i] as number, room[i] as number));
    need[i] = Math.min(Math.max(0, (lowerWithout[i] as number) - (load[i] as number)), hi[i] as number);
    lo[i] = Math.min(Math.max(Math.floor(q), need[i] as number), hi[i] as number);
    count[i] = Math.max(lo[i] as number, Math.min(kept[i] as number, hi[i] as number));
    sum += count[i] as number;
  }
  // Slack per unit of weight after the current count; more slack = better place for one more.
  const better = (a: number, b: number): boolean => {
    const sa = ((room[a] as number) - (count[a] as number)) * (weights[b] as number);
    const sb = ((room[b] as number) - (count[b] as number)) * (weights[a] as number);
    return sa > sb || (sa === sb && (tie[a] as number) < (tie[b] as number));
  };
  const pick = (eligible: (i: number) => boolean, most: boolean): number => {
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (i === x || !eligible(i)) continue;
      if (best < 0 || (most ? better(i, best) : better(best, i))) best = i;
    }
    return best;
  };
  while (sum > owned) {
    // Too many kept ceilings (X lost partitions, or gained some that other members may be
    // promoted to): drop promotions first, then existing first backups, from the members with
    // the least slack; if the needs and floors add up to more than |X|, floors give way first.
    let i = pick((m) => (count[m] as number) > Math.max(lo[m] as number, firm[m] as number), false);
    if (i < 0) i = pick((m) => (count[m] as number) > (lo[m] as number), false);
    if (i < 0) i = pick((m) => (count[m] as number) > (need[m] as number), false);
    if (i < 0) i = pick((m) => (count[m] as number) > 0, false);
    count[i] = (count[i] as number) - 1;
    sum--;
  }
  while (sum < owned) {
    let i = pick((m) => (count[m] as number) < (hi[m] as number), true);
    if (i < 0) i = pick((m) => (count[m] as number) < (ceil[m] as number), true); // headroom short: spread first
    if (i < 0) i = pick(() => true, true); // rounding only
    count[i] = (count[i] as number) + 1;
    sum++;
  }
  return count;
}
