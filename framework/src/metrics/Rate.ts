/**
 * The rate of a counter between consecutive samples (per second). Node records carry such rates
 * (over the record interval, ~5 s) so `berth status` shows them from one read.
 */
export class Rate {
  private last: { readonly value: number; readonly at: number } | null = null;
  private current = 0;

  /** Takes a sample of the counter at `at` (ms) and returns the rate since the previous one. */
  sample(value: number, at: number): number {
    const prev = this.last;
    // Too close to the previous sample (a record written twice in a row): keep the last rate.
    if (prev !== null && at - prev.at < 250) return this.current;
    this.last = { value, at };
    if (prev === null || value < prev.value) return (this.current = 0);
    this.current = ((value - prev.value) * 1000) / (at - prev.at);
    return this.current;
  }
}
