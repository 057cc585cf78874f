/** Measuring helpers shared by the benchmarks. */

/** Runs `op` with `concurrency` loops until `count` operations completed; returns ops/s. */
export async function throughput(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * Offers `op` at a fixed `perSecond` for `seconds` (an open loop: calls start on schedule,
 * every millisecond or so, whether or not earlier ones returned) and returns each call's
 * latency in ms, from when it started.
 */
export async function openLoop(perSecond: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const total = Math.round(perSecond * seconds);
  const latencies: number[] = [];
  const calls: Promise<void>[] = [];
  const start = performance.now();
  let issued = 0;
  while (issued < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * perSecond) + 1);
    for (; issued < due; issued++) {
      const at = performance.now();
      calls.push(op(issued).then(() => void latencies.push(performance.now() - at)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(calls);
  return latencies;
}

/** Runs each variant `rounds` times, interleaved (A B A B ...), and returns each one's median. */
export async function interleaved<K extends string>(rounds: number, variants: Record<K, () => Promise<number>>): Promise<Record<K, number>> {
  const samples = {} as Record<K, number[]>;
  for (const k of Object.keys(variants) as K[]) samples[k] = [];
  for (let r = 0; r < rounds; r++) for (const k of Object.keys(variants) as K[]) samples[k].push(await variants[k]());
  const out = {} as Record<K, number>;
  for (const k of Object.keys(samples) as K[]) out[k] = median(samples[k]);
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The q-quantile (0..1) of a list of samples. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/** Forces a full garbage collection (the bench runs with --expose-gc). */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error("run the benchmarks with node --expose-gc (npm run bench does)");
  g();
  g();
}

export function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
