/** One line of benchmark output. */
export interface BenchResult {
  readonly name: string;
  readonly [field: string]: string | number | boolean | null | readonly number[];
}

/** A benchmark: a name and a run that returns one or more result lines. */
export interface Benchmark {
  readonly name: string;
  run(options: { quick: boolean }): Promise<BenchResult[]>;
}
