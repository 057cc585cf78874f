/**
 * Coalesces concurrent partition reads. On nats-server 2.9 a filtered consumer scans the stream
 * from its first matching message to its last (measured here: ~67 ms for one partition in a
 * 205k-message stream), while one unfiltered pass over the whole stream delivers ~300k msgs/s.
 * So a few partitions are read one by one (filtered, at most `maxFiltered` at a time), and
 * when `batchMin` or more are waiting (a failover asks for hundreds at once) they are all
 * served by one pass over the whole stream. A call only joins a read that has not started,
 * so it always sees every entry acknowledged before it was made.
 */
export interface ReadSchedulerOptions<T> {
  readonly batchMin: number;
  readonly maxFiltered: number;
  readOne(partition: number): Promise<T>;
  readMany(partitions: readonly number[]): Promise<Map<number, T>>;
  /** Each caller gets its own copy (callers may mutate what they receive). */
  copy(value: T): T;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class ReadScheduler<T> {
  private readonly waiting = new Map<number, Waiter<T>[]>();
  private filteredRunning = 0;
  private passRunning = false;
  private scheduled = false;

  constructor(private readonly options: ReadSchedulerOptions<T>) {}

  read(partition: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const list = this.waiting.get(partition);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(partition, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: reads issued from many async continuations of one tick batch together.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const { batchMin, maxFiltered } = this.options;
    if (this.waiting.size >= batchMin && !this.passRunning) {
      const batch = this.take([...this.waiting.keys()]);
      this.passRunning = true;
      this.options
        .readMany([...batch.keys()])
        .then(
          (results) => {
            for (const [p, waiters] of batch) {
              const value = results.get(p);
              for (const w of waiters) value === undefined ? w.reject(new Error(`partition ${p} missing from a batch read`)) : w.resolve(this.options.copy(value));
            }
          },
          (error: unknown) => {
            for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
          },
        )
        .finally(() => {
          this.passRunning = false;
          if (this.waiting.size > 0) this.schedule();
        });
      return;
    }
    // Too few for a pass (or a pass is running and these came later): read them one by one.
    if (this.waiting.size >= batchMin) return; // the next pass takes them
    while (this.filteredRunning < maxFiltered && this.waiting.size > 0) {
      const [p] = this.waiting.keys();
      if (p === undefined) break;
      const waiters = this.take([p]).get(p) ?? [];
      this.filteredRunning++;
      this.options
        .readOne(p)
        .then(
          (value) => {
            for (const w of waiters) w.resolve(this.options.copy(value));
          },
          (error: unknown) => {
            for (const w of waiters) w.reject(error);
          },
        )
        .finally(() => {
          this.filteredRunning--;
          if (this.waiting.size > 0) this.schedule();
        });
    }
  }

  private take(partitions: readonly number[]): Map<number, Waiter<T>[]> {
    const out = new Map<number, Waiter<T>[]>();
    for (const p of partitions) {
      const w = this.waiting.get(p);
      if (w) out.set(p, w);
      this.waiting.delete(p);
    }
    return out;
  }
}
