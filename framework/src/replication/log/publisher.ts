import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { ReplyInbox } from "../../transport/nats/ReplyInbox.js";

/** A JetStream publish that got no acknowledgement in time, or found no stream to take it (an election). Transient. */
export class PublishTimeoutError extends Error {
  override readonly name = "PublishTimeoutError";
}

/** The stream refused the message (`{"error": …}` in its answer). Transient unless the description says otherwise (see retry.ts). */
export class PublishRefusedError extends Error {
  override readonly name = "PublishRefusedError";
  constructor(
    readonly code: number,
    readonly errCode: number,
    description: string,
  ) {
    super(`JetStream refused the message: ${description} (${code}/${errCode})`);
  }
}

interface Waiting {
  readonly deadline: number;
  resolve(seq: number): void;
  reject(error: Error): void;
}

const utf8 = new TextDecoder();

/**
 * Publishes to JetStream with a message id and waits for the stream's acknowledgement, over one
 * wildcard inbox per connection (a `ReplyInbox`, as the node transport's calls). Not
 * `JetStreamClient.publish`: in @nats-io 3.x each of its requests builds an `Error` (with a
 * stack trace) when it completes, whether it failed or not — 7.7 µs of the ~95 µs a `sync({ log: true })` write cost in the profile. One attempt only:
 * the event log repeats it with the same id (NatsEventLog.publish).
 *
 * @example
 * ```ts
 * const pub = new JetStreamPublisher(nc);
 * const seq = await pub.publish("berth_shop_log.a.7.cart.s-42", body, "cart/s-42/3/5", 2_000);
 * ```
 */
export class JetStreamPublisher {
  private readonly waiting: ReplyInbox<Waiting>;

  constructor(private readonly nc: NatsConnection) {
    this.waiting = new ReplyInbox<Waiting>(nc, {
      onReply: (id, msg) => this.onAck(id, msg),
      expired: (w) => w.reject(new PublishTimeoutError("no acknowledgement from the stream in time")),
    });
  }

  /** Publishes one message; resolves with its stream sequence (also for a duplicate of an earlier attempt). */
  publish(subject: string, body: Uint8Array, msgID: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.waiting.add({ deadline: Date.now() + timeoutMs, resolve, reject });
      const h = natsHeaders();
      h.set("Nats-Msg-Id", msgID);
      try {
        this.nc.publish(subject, body, { reply: this.waiting.subject(id), headers: h });
      } catch (error) {
        this.waiting.take(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Fails what is still waiting and stops listening. */
  close(): void {
    for (const w of this.waiting.close()) w.reject(new PublishTimeoutError("the event log is closing"));
  }

  private onAck(id: string, msg: Msg): void {
    const w = this.waiting.take(id);
    if (w === undefined) return; // late: the attempt was given up and repeated
    if (msg.headers?.hasError === true && msg.headers.code === 503) return w.reject(new PublishTimeoutError("no stream took the message (no responders: a leader election, or JetStream unavailable)"));
    let ack: unknown;
    try {
      ack = JSON.parse(utf8.decode(msg.data));
    } catch {
      return w.reject(new PublishTimeoutError("the stream's acknowledgement is not JSON"));
    }
    if (typeof ack !== "object" || ack === null) return w.reject(new PublishTimeoutError("the stream's acknowledgement is malformed"));
    const a = ack as { seq?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
    if (a.error !== undefined) {
      const e = a.error;
      return w.reject(new PublishRefusedError(typeof e.code === "number" ? e.code : 0, typeof e.err_code === "number" ? e.err_code : 0, typeof e.description === "string" ? e.description : "no description"));
    }
    if (typeof a.seq !== "number" || !Number.isSafeInteger(a.seq) || a.seq < 1) return w.reject(new PublishTimeoutError("the stream's acknowledgement has no sequence"));
    w.resolve(a.seq);
  }
}
