import { capsFor } from "./boundedAssign.js";

/** Each member's share of the partitions, and the bounds placement keeps its load within. */
export interface Shares {
  /** The fair share P·wᵢ/Σw (a real number). */
  readonly target: Float64Array;
  /** ⌊P·wᵢ/Σw⌋: what a member that is far under its share is filled up to. */
  readonly floor: Int32Array;
  /** ⌊P·wᵢ/(c·Σw)⌋: a member owning fewer is "far under" its share (a newcomer, for one). */
  readonly lower: Int32Array;
  /** ⌈c·P·wᵢ/Σw⌉, the bounded-load cap (the same as `computeTable`'s). */
  readonly cap: Int32Array;
}

/**
 * The shares of members of the given weights, Σw summed in index order.
 * @param weights the members' capacities, in table (sorted id) order
 * @param partitions P
 * @param loadFactor c, from 1 to 2
 * @example
 * ```ts
 * sharesOf(new Float64Array([1, 1, 2]), 1024, 1.15);
 * // target [256, 256, 512], floor [256, 256, 512], lower [222, 222, 445], cap [295, 295, 589]
 * ```
 */
export function sharesOf(weights: Float64Array, partitions: number, loadFactor: number): Shares {
  let total = 0;
  for (const w of weights) total += w;
  const n = weights.length;
  const target = new Float64Array(n);
  const floor = new Int32Array(n);
  const lower = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = (partitions * (weights[i] as number)) / total;
    target[i] = t;
    floor[i] = Math.floor(t);
    lower[i] = Math.floor(t / loadFactor);
  }
  return { target, floor, lower, cap: capsFor(weights, loadFactor, partitions, -1) };
}
