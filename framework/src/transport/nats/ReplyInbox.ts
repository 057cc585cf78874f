import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/** What a request waiting in a `ReplyInbox` must carry: when to give up on it. */
export interface Waiting {
  /** Epoch ms after which the sweeper hands it to `expired`. */
  readonly deadline: number;
}

/** What the owner of a `ReplyInbox` does with its messages and its late requests. */
export interface ReplyInboxHandlers<W extends Waiting> {
  /** A message on `<inbox>.<id>`. The waiting request is not removed: `take` it. */
  onReply(id: string, msg: Msg): void;
  /** A request whose deadline passed, already removed. */
  expired(w: W): void;
  /** Called at every sweep, with the time of the sweep, before the deadlines are checked. */
  onSweep?(now: number): void;
}

/**
 * Many requests answered over one wildcard subscription, `<inbox>.<id>`, each waiting in a map
 * by id until its answer or its deadline (one sweeper every 50 ms, not a timer per request).
 * Creating a subscription, or a timer, per request costs more than the request on a small
 * machine; `nc.request()` also builds an `Error` per call in @nats-io 3.x. Used by the node
 * transport (calls, batches of calls) and the event log's JetStream publisher.
 *
 * @example
 * ```ts
 * const inbox = new ReplyInbox<{ deadline: number; done(m: Msg): void }>(nc, {
 *   onReply: (id, msg) => inbox.take(id)?.done(msg),
 *   expired: (w) => console.log("no answer by", w.deadline),
 * });
 * const id = inbox.add({ deadline: Date.now() + 1000, done: (m) => console.log(m.data) });
 * nc.publish("some.service", data, { reply: inbox.subject(id) });
 * ```
 */
export class ReplyInbox<W extends Waiting> {
  /** The subject prefix: replies arrive on `<prefix>.<id>`. */
  readonly prefix = createInbox();
  private readonly waiting = new Map<string, W>();
  private readonly sub: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private seq = 0;

  constructor(
    nc: NatsConnection,
    private readonly handlers: ReplyInboxHandlers<W>,
  ) {
    const from = this.prefix.length + 1;
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, msg) => handlers.onReply(msg.subject.slice(from), msg) });
    this.sweeper = setInterval(() => this.sweep(), 50);
    this.sweeper.unref();
  }

  /** The reply subject of `id`. */
  subject(id: string): string {
    return `${this.prefix}.${id}`;
  }

  /**
   * Adds a waiting request under a fresh id, which it returns (base 36: 0-9a-z; a caller may
   * route replies of its own on ids with an upper-case prefix, as the transport's batches do).
   */
  add(w: W): string {
    const id = (this.seq++).toString(36);
    this.waiting.set(id, w);
    return id;
  }

  get(id: string): W | undefined {
    return this.waiting.get(id);
  }

  has(id: string): boolean {
    return this.waiting.has(id);
  }

  /** Removes and returns the request waiting under `id` (undefined: answered, expired or never sent). */
  take(id: string): W | undefined {
    const w = this.waiting.get(id);
    if (w !== undefined) this.waiting.delete(id);
    return w;
  }

  /** Removes and returns every waiting request that `which` selects (all of them by default). */
  takeAll(which: (w: W) => boolean = () => true): W[] {
    const out: W[] = [];
    for (const [id, w] of this.waiting) {
      if (!which(w)) continue;
      this.waiting.delete(id);
      out.push(w);
    }
    return out;
  }

  /** Stops listening and sweeping; returns what was still waiting (removed). */
  close(): W[] {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    return this.takeAll();
  }

  private sweep(): void {
    const now = Date.now();
    this.handlers.onSweep?.(now);
    if (this.waiting.size === 0) return;
    for (const [id, w] of this.waiting) {
      if (w.deadline > now) continue;
      this.waiting.delete(id);
      this.handlers.expired(w);
    }
  }
}
