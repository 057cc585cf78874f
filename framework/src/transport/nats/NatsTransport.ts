import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { DeadlineExceededError, NodeUnreachableError, ReplyLostError } from "../../errors.js";
import type { RequestHandler, Transport } from "../types.js";
import { BATCH_HEADER, decodeBatch, encodeBatch, isBatch, itemSize, MAX_BATCH_ITEMS, type BatchItem } from "./batchFrame.js";
import { ReplyInbox } from "./ReplyInbox.js";

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

interface Pending {
  readonly target: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  resolve(reply: Uint8Array): void;
  reject(error: Error): void;
}

/**
 * The subjects of one cluster: `berth.<cluster>.rpc.<node>` for requests, `berth.<cluster>.t.<topic>`
 * for topics. A transport of another service on the same connection (the HTTP layer's forwarded
 * requests: `service` "http") takes requests on `berth.<cluster>.<service>.<node>` instead.
 */
export function clusterSubjects(cluster: string, service = "rpc") {
  const prefix = `berth.${cluster}`;
  return {
    prefix,
    rpc: (node: string) => `${prefix}.${service}.${node}`,
    topic: (topic: string) => `${prefix}.t.${topic}`,
  };
}

/**
 * The NATS transport. Requests are multiplexed over one reply subscription per connection
 * (a `ReplyInbox`: a wildcard inbox, a map of pending calls and one deadline sweeper) instead of
 * `nc.request()` per call — 2–3× the throughput. A request to a node with no subscriber gets
 * the server's no-responders status at once (`NodeUnreachableError`), not a timeout.
 *
 * Requests to one node, and replies to one caller, that are ready in the same event-loop turn
 * leave as one NATS message (see batchFrame.ts); a lone one leaves as itself. Nothing waits
 * for a batch to fill: the outbox is flushed at the end of every turn that filled it.
 *
 * A connection that drops and comes back (its server died, the client moved to another) may
 * have lost requests and replies in flight: NATS core delivers at most once. So when this
 * connection is re-established, every request waiting for a reply fails at once with
 * `ReplyLostError` (a `DeadlineExceededError`: the outcome unknown; callers retry with the same call id),
 * instead of after its whole timeout; and the transport says so on its service's `_relinked`
 * topic, so that the other nodes' transports of that service do the same for their requests to this one.
 */
export class NatsTransport implements Transport {
  private readonly subjects: ReturnType<typeof clusterSubjects>;
  /** Where this service's transports say that their connection came back (the payload is the node id). */
  private readonly relinkedTopic: string;
  /** Requests waiting for their replies. */
  private readonly pending: ReplyInbox<Pending>;
  private readonly subs = new Set<Subscription>();
  /** Batch ids, after the ids of single requests (the inbox's base-36 ids); an upper-case prefix can never collide. */
  private batchSeq = 0;
  private served: Subscription | null = null;
  /** Time of the last sweep: deadlines need no clock read per request (they are swept at 50 ms anyway). */
  private coarseNow = Date.now();
  private closed = false;
  /** Requests waiting for the end of this turn, per target node. */
  private readonly outbox = new Map<string, BatchItem[]>();
  /** Replies waiting for the end of this turn, per reply subject. */
  private readonly replyOutbox = new Map<string, BatchItem[]>();
  /** Replies to lone requests, waiting for the end of this turn (they leave as themselves). */
  private loneReplies: Array<{ readonly subject: string; readonly payload: Uint8Array }> = [];
  private flushScheduled = false;
  /** Sent batches by reply id → the ids of their requests (to fail them on no-responders). */
  private readonly batches = new Map<string, string[]>();
  /** Batch frames that failed validation (counted, dropped). */
  malformedBatches = 0;
  /** Times this connection was re-established (each failed the requests in flight). */
  relinks = 0;

  /**
   * @param options.service requests of this transport go to `berth.<cluster>.<service>.<node>`
   *   (default "rpc", the node's calls); a second service gets its own subject, inbox and batches.
   */
  constructor(
    readonly nc: NatsConnection,
    readonly nodeId: string,
    cluster: string,
    options: { service?: string } = {},
  ) {
    if (options.service !== undefined && !/^[a-z]{1,16}$/.test(options.service)) throw new TypeError(`transport service must be 1-16 lower-case letters; got ${JSON.stringify(options.service)}`);
    this.subjects = clusterSubjects(cluster, options.service);
    this.relinkedTopic = `_relinked.${options.service ?? "rpc"}`;
    this.pending = new ReplyInbox<Pending>(nc, {
      onReply: (id, msg) => this.onReply(id, msg),
      expired: (p) => p.reject(new DeadlineExceededError(p.timeoutMs, `no reply from ${p.target}`, p.target)),
      onSweep: (now) => {
        this.coarseNow = now;
        // Batches whose requests all settled (their reply was lost or is late) are forgotten.
        for (const [batchId, ids] of this.batches) if (!ids.some((id) => this.pending.has(id))) this.batches.delete(batchId);
      },
    });
    this.subscribe(this.relinkedTopic, (payload) => this.onRelinked(payload));
    void this.watchConnection();
  }

  /** Largest message the server accepts (its `max_payload`). */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  send(target: string, payload: Uint8Array, timeoutMs: number, onReply: (reply: Uint8Array) => void, onError: (error: Error) => void): void {
    if (this.closed) return onError(new NodeUnreachableError(target));
    const id = this.pending.add({ target, deadline: this.coarseNow + timeoutMs, timeoutMs, resolve: onReply, reject: onError });
    const queue = this.outbox.get(target);
    if (queue === undefined) this.outbox.set(target, [{ id, payload }]);
    else queue.push({ id, payload });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushOutbox());
  }

  /** Sends everything queued this turn: one message per target (or per reply subject). */
  private flushOutbox(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    for (const [target, items] of this.outbox) {
      const subject = this.subjects.rpc(target);
      for (const chunk of this.chunks(items)) {
        try {
          if (chunk.length === 1) {
            const item = chunk[0] as BatchItem;
            this.nc.publish(subject, item.payload, { reply: this.pending.subject(item.id) });
          } else {
            const batchId = `B${(this.batchSeq++).toString(36)}`;
            this.batches.set(batchId, chunk.map((i) => i.id));
            this.nc.publish(subject, encodeBatch(chunk), { reply: this.pending.subject(batchId) });
          }
        } catch (error) {
          for (const item of chunk) this.fail(item.id, error instanceof Error ? error : new Error(String(error)));
        }
      }
    }
    this.outbox.clear();
    for (const [subject, items] of this.replyOutbox) {
      for (const chunk of this.chunks(items)) {
        try {
          this.nc.publish(subject, encodeBatch(chunk));
        } catch {
          // The caller times out and retries: its call ids make that safe.
        }
      }
    }
    this.replyOutbox.clear();
    const lone = this.loneReplies;
    this.loneReplies = [];
    for (const r of lone) {
      try {
        this.nc.publish(r.subject, r.payload);
      } catch {
        // as above
      }
    }
  }

  /** Splits queued items into batches that fit the server's max payload. */
  private *chunks(items: BatchItem[]): Generator<BatchItem[]> {
    const limit = this.maxPayload;
    let chunk: BatchItem[] = [];
    let size = BATCH_HEADER;
    for (const item of items) {
      const n = itemSize(item);
      if (chunk.length > 0 && (chunk.length >= MAX_BATCH_ITEMS || size + n > limit)) {
        yield chunk;
        chunk = [];
        size = BATCH_HEADER;
      }
      chunk.push(item);
      size += n;
    }
    if (chunk.length > 0) yield chunk;
  }

  private fail(id: string, error: Error): void {
    this.pending.take(id)?.reject(error);
  }

  request(target: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => this.send(target, payload, timeoutMs, resolve, reject));
  }

  private onReply(id: string, msg: Msg): void {
    if (id.charCodeAt(0) === 66 /* B */) return this.onBatchReply(id, msg);
    const p = this.pending.take(id);
    if (p === undefined) return; // late reply after the deadline
    if (msg.headers?.hasError && msg.headers.code === 503) p.reject(new NodeUnreachableError(p.target));
    else p.resolve(msg.data);
  }

  private onBatchReply(batchId: string, msg: Msg): void {
    const ids = this.batches.get(batchId);
    this.batches.delete(batchId);
    if (msg.headers?.hasError && msg.headers.code === 503) {
      for (const id of ids ?? []) this.fail(id, new NodeUnreachableError(this.pending.get(id)?.target ?? "?"));
      return;
    }
    let items: BatchItem[];
    try {
      items = decodeBatch(msg.data, this.maxPayload);
    } catch {
      this.malformedBatches++;
      return; // the calls time out and retry
    }
    for (const item of items) this.pending.take(item.id)?.resolve(item.payload);
  }

  /** Fails the requests in flight when this connection comes back, and tells the other nodes. */
  private async watchConnection(): Promise<void> {
    try {
      for await (const status of this.nc.status()) {
        if (this.closed) return;
        if (status.type !== "reconnect") continue;
        this.relinks++;
        this.failPending(() => true, "this node's connection to NATS was re-established");
        try {
          this.publish(this.relinkedTopic, utf8.encode(this.nodeId));
        } catch {
          // Closing meanwhile: nobody waits for this node's replies any more.
        }
      }
    } catch {
      // The status iterator ends with the connection.
    }
  }

  /** Another node's connection came back: what it had not answered yet may be lost. */
  private onRelinked(data: Uint8Array): void {
    if (data.length === 0 || data.length > 256) return;
    let peer: string;
    try {
      peer = utf8Strict.decode(data);
    } catch {
      return;
    }
    if (peer === this.nodeId) return;
    this.failPending((p) => p.target === peer, `${peer}'s connection to NATS was re-established`);
  }

  private failPending(which: (p: Pending) => boolean, why: string): void {
    for (const p of this.pending.takeAll(which)) p.reject(new ReplyLostError(p.timeoutMs, p.target, why));
  }

  serve(handler: RequestHandler): void {
    this.served?.unsubscribe();
    this.served = this.nc.subscribe(this.subjects.rpc(this.nodeId), {
      callback: (_err, msg) => {
        if (!msg.reply) return; // a request nobody waits for
        const reply = msg.reply;
        if (isBatch(msg.data)) return this.serveBatch(handler, msg.data, reply);
        try {
          handler(msg.data, (bytes) => {
            if (this.closed) return;
            this.loneReplies.push({ subject: reply, payload: bytes });
            this.scheduleFlush();
          });
        } catch {
          // Handlers answer errors themselves; a throw here leaves nothing to send.
        }
      },
    });
    this.subs.add(this.served);
  }

  /** Runs each request of a batch; their replies go back batched, in the turn they are ready. */
  private serveBatch(handler: RequestHandler, bytes: Uint8Array, reply: string): void {
    let items: BatchItem[];
    try {
      items = decodeBatch(bytes, this.maxPayload);
    } catch {
      this.malformedBatches++;
      return; // nothing addressable to answer; the callers time out and retry
    }
    for (const item of items) {
      try {
        handler(item.payload, (out) => {
          if (this.closed) return;
          const queue = this.replyOutbox.get(reply);
          if (queue === undefined) this.replyOutbox.set(reply, [{ id: item.id, payload: out }]);
          else queue.push({ id: item.id, payload: out });
          this.scheduleFlush();
        });
      } catch {
        // as above
      }
    }
  }

  publish(topic: string, payload: Uint8Array): void {
    if (!this.closed) this.nc.publish(this.subjects.topic(topic), payload);
  }

  subscribe(topic: string, handler: (payload: Uint8Array) => void): () => void {
    const sub = this.nc.subscribe(this.subjects.topic(topic), {
      callback: (_err, msg) => {
        try {
          handler(msg.data);
        } catch {
          // A subscriber's bug must not break the connection's dispatch loop.
        }
      },
    });
    this.subs.add(sub);
    return () => {
      sub.unsubscribe();
      this.subs.delete(sub);
    };
  }

  /** Confirms with the server that everything published so far has reached it. */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
    for (const p of this.pending.close()) p.reject(new NodeUnreachableError(p.target));
  }
}
