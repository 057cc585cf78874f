/**
 * A history checker for cluster tests: a steady load of writes, each appending a unique token to
 * a session's list and recorded once the caller gets its acknowledgement; at the end every
 * session's list is read back and checked against what callers saw.
 *
 * Each session is written by exactly one caller, one write at a time, so "the order the caller
 * saw" is the order of its acknowledgements.
 */

export interface Failure {
  readonly session: string;
  readonly token: string;
  readonly error: string;
  readonly at: number;
}

export interface LoadStats {
  readonly acknowledged: number;
  readonly failed: number;
  /** The longest time one write took (ms): a call held by a move or a recovery shows here. */
  readonly maxLatencyMs: number;
  readonly p99LatencyMs: number;
  readonly writesPerSec: number;
}

export class History {
  /** Per session, the tokens acknowledged to its caller, in order. */
  readonly acked = new Map<string, string[]>();
  /** Tokens whose call failed: the write may or may not have happened. */
  readonly uncertain = new Set<string>();
  readonly failures: Failure[] = [];
  readonly latencies: number[] = [];
  /** Acknowledgement time of each token (ms since epoch), for loss-window measurements. */
  readonly ackedAt = new Map<string, number>();

  ack(session: string, token: string, latencyMs: number): void {
    let list = this.acked.get(session);
    if (list === undefined) this.acked.set(session, (list = []));
    list.push(token);
    this.latencies.push(latencyMs);
    this.ackedAt.set(token, Date.now());
  }

  fail(session: string, token: string, error: unknown): void {
    this.uncertain.add(token);
    this.failures.push({ session, token, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), at: Date.now() });
  }

  /**
   * Compares the stored lists with the history. Returns the problems (empty when all holds):
   * an acknowledged token missing (`lost`), any token stored twice, acknowledged tokens out of
   * their caller's order, and tokens nobody wrote.
   */
  check(stored: ReadonlyMap<string, readonly string[]>): { problems: string[]; lost: string[] } {
    const problems: string[] = [];
    const lost: string[] = [];
    for (const [session, acked] of this.acked) {
      const list = stored.get(session) ?? [];
      const seen = new Set<string>();
      for (const token of list) {
        if (seen.has(token)) problems.push(`${session}: token ${token} stored twice`);
        seen.add(token);
        if (!this.uncertain.has(token) && !acked.includes(token)) problems.push(`${session}: token ${token} was never written by its caller`);
      }
      const ackedSet = new Set(acked);
      const missing = acked.filter((tk) => !seen.has(tk));
      lost.push(...missing);
      for (const tk of missing) problems.push(`${session}: acknowledged token ${tk} lost`);
      const order = list.filter((tk) => ackedSet.has(tk));
      const expected = acked.filter((tk) => seen.has(tk));
      if (order.join(",") !== expected.join(",")) problems.push(`${session}: acknowledged tokens out of order: stored ${order.join(",")} vs acknowledged ${expected.join(",")}`);
    }
    return { problems, lost };
  }
}

/**
 * Runs `concurrency` callers, each cycling through its share of `sessions` and appending
 * `<session>#<prefix><n>` with `write`, until `stop()` is called. `stop()` resolves once every
 * caller finished its write in flight. Give loads on the same sessions different prefixes.
 * `pauseMs` paces the load: each caller waits that long after each write (long runs use it to
 * keep the sessions' state from growing with the machine's speed).
 */
export function startLoad(
  sessions: readonly string[],
  concurrency: number,
  write: (session: string, token: string) => Promise<unknown>,
  prefix = "",
  pauseMs = 0,
): { readonly history: History; stop(): Promise<LoadStats> } {
  const history = new History();
  let running = true;
  const started = Date.now();
  const counters = new Map<string, number>();
  const callers = Array.from({ length: concurrency }, async (_, c) => {
    const mine = sessions.filter((_, i) => i % concurrency === c);
    if (mine.length === 0) return;
    for (let i = 0; running; i++) {
      const session = mine[i % mine.length] as string;
      const n = (counters.get(session) ?? 0) + 1;
      counters.set(session, n);
      const token = `${session}#${prefix}${n}`;
      const t0 = performance.now();
      try {
        await write(session, token);
        history.ack(session, token, performance.now() - t0);
      } catch (error) {
        history.fail(session, token, error);
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    history,
    async stop() {
      running = false;
      await Promise.all(callers);
      const sorted = [...history.latencies].sort((a, b) => a - b);
      const acknowledged = sorted.length;
      return {
        acknowledged,
        failed: history.failures.length,
        maxLatencyMs: Math.round(sorted[sorted.length - 1] ?? 0),
        p99LatencyMs: Math.round(sorted[Math.floor(sorted.length * 0.99)] ?? 0),
        writesPerSec: Math.round(acknowledged / ((Date.now() - started) / 1000)),
      };
    },
  };
}
