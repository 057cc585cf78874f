/** A histogram as exported: cumulative counts per upper bound, plus the sum and count of all observations. */
export interface HistogramSnapshot {
  /** `[upper bound in seconds, observations ≤ it]`, ascending; the `+Inf` bucket is `count`. */
  readonly buckets: ReadonlyArray<readonly [number, number]>;
  /** Sum of all observations (seconds). */
  readonly sum: number;
  readonly count: number;
}

/** Bucket bounds (seconds) for things that take milliseconds to seconds: moves, recoveries. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Bucket bounds (seconds) for sub-millisecond to second latencies: log appends. */
export const LATENCY_BUCKETS: readonly number[] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * A Prometheus-style histogram: fixed buckets, counted as observations arrive (O(buckets) per
 * observation, no allocation), so it costs nothing to keep and its `_sum`/`_count` are exact.
 */
export class Histogram {
  private readonly bounds: Float64Array;
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  /** @param bounds upper bounds in seconds, ascending */
  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) if (!((bounds[i] as number) > (bounds[i - 1] as number))) throw new RangeError("histogram bounds must ascend");
    this.bounds = Float64Array.from(bounds);
    this.counts = new Float64Array(bounds.length);
  }

  /** Records one observation, in seconds. */
  observe(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= (this.bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      buckets.push([this.bounds[i] as number, cumulative]);
    }
    return { buckets, sum: this.sum, count: this.count };
  }
}
