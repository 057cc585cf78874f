/**
 * Runs bursts of synchronous work — many partitions recovered, synced or handed over at once —
 * in slices of the event loop, so that between slices the node renews its lease, answers
 * heartbeats and serves calls.
 *
 * Without it a failover could block a survivor for seconds: every recovery's replies arrive
 * together, and each installs its records and re-encodes them for new backups in the same
 * burst of microtasks. Under large records (a cart keeping 64 call outcomes, each the whole
 * cart) that took a survivor past its lease; the leader then declared it down too, and one
 * failure became the whole cluster's.
 *
 * Jobs run in the order given, each at once and whole; a slice ends once `budgetMs` passed
 * (at least one job runs per slice), and the next begins after the event loop's timers and I/O.
 *
 * @example
 * const slicer = new WorkSlicer();
 * const imported = await slicer.run(() => host.importActors(p, records));
 */
export class WorkSlicer {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  /** @param budgetMs how long one slice may run before the event loop gets a turn. Default 10. */
  constructor(private readonly budgetMs = 10) {}

  /** Runs `job` in a slice; resolves with its result, rejects with what it threw. */
  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          resolve(job());
        } catch (err) {
          reject(err);
        }
      });
      this.schedule();
    });
  }

  /** Jobs waiting for a slice. */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: a slice scheduled from a slice runs after the loop's
    // timers and I/O (lease renewals, heartbeats, calls), which is the point.
    setImmediate(() => this.slice());
  }

  private slice(): void {
    this.scheduled = false;
    const started = performance.now();
    let job = this.queue.shift();
    while (job !== undefined) {
      job();
      if (performance.now() - started >= this.budgetMs) break;
      job = this.queue.shift();
    }
    if (this.queue.length > 0) this.schedule();
  }
}
