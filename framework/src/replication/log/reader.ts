import { AckPolicy, DeliverPolicy, ReplayPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { EventLogClosedError, EventLogReadError } from "./errors.js";
import type { RawMessage } from "./fold.js";
import { errorText, isTransient, retryDelay, sleep } from "./retry.js";

/** Idle heartbeat of the read consumers; a read that hears nothing for 3× this restarts. */
const HEARTBEAT_MS = 500;
const STALL_MS = 3 * HEARTBEAT_MS + 500;
/** How often a read on a lagging replica asks its consumer how far the replica got. */
const POSITION_POLL_MS = 50;
/** A read whose replica has not caught up with the leader after this long starts over (on another replica, likely). */
const LAG_RESTART_MS = 2_000;
/**
 * On a replicated stream, a read whose consumer creation got no answer (and no message) after this
 * long starts over, for its first `CREATE_RESTART_ATTEMPTS` attempts; later attempts wait for the
 * JetStream API timeout (5 s), so a live but slow server is still waited for in the end.
 * nats-server 2.9 places an R1 consumer on any of the stream's peers, a dead one included
 * (measured here: about 1 create in 3 went to a SIGKILLed peer, still 35 s after the kill), and
 * such a create is never answered: without this, each one cost the 5 s API timeout. A healthy
 * create is answered in 1–2 ms. (Measured over 80 reads with one of 3 servers dead: 1.5 s per
 * miss, 0–4 misses per read.)
 */
const CREATE_RESTART_MS = 1_500;
const CREATE_RESTART_ATTEMPTS = 5;

export interface ReadOptions {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  /** A subject filter, or undefined for the whole stream. */
  readonly filter: string | undefined;
  /** Whether the stream has more than one replica (see `readFiltered`). */
  readonly replicated: boolean;
  /** The whole read, retries included. */
  readonly timeoutMs: number;
  /** Whether the owner was closed (ends the read with `EventLogClosedError`). */
  readonly closed: () => boolean;
}

/**
 * Reads every message of `stream` matching `filter`, in stream order, until caught up. One
 * ephemeral push consumer per attempt (R1, memory, no acks, flow control) delivering to a fresh
 * inbox: one API round trip, then the messages stream in.
 *
 * Caught up locally: every message that existed when the first one was delivered has arrived
 * (its consumer sequence plus the pending count in its `$JS.ACK` reply subject), or a message
 * says nothing is pending, or the create response says there is nothing, or an idle heartbeat
 * shows nothing missing (messages counted as pending can be removed by the stream's limits
 * before delivery). Appends made meanwhile cannot keep a read running.
 *
 * On a replicated stream that is not enough: nats-server 2.9 places an ephemeral consumer on any
 * replica, and a follower's store may lag the leader's (a restarted server catching up). So the
 * read first asks the stream leader for its last sequence L (STREAM.INFO is answered by the
 * leader), and unless the consumer landed on that leader it is complete only once the replica
 * is known to have applied L: a delivered message at or after L, an idle heartbeat's
 * `Nats-Last-Stream`, or CONSUMER.INFO's `delivered.stream_seq` (the consumer's scan position).
 * So every message acknowledged before the read began is included.
 *
 * A gap in the consumer sequence, a stall, or a failed request (e.g. during a stream leader
 * election) starts the read over: `begin()` is called at the start of every attempt and returns
 * the sink for that attempt.
 */
export async function readFiltered(options: ReadOptions, begin: () => (msg: RawMessage) => void): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    if (options.closed()) throw new EventLogClosedError();
    try {
      let need = 0;
      let leader: string | undefined;
      if (options.replicated) {
        const info = await options.jsm.streams.info(options.stream);
        need = info.state.last_seq;
        leader = info.cluster?.leader;
      }
      return await readOnce(options, begin(), deadline, need, leader, attempt <= CREATE_RESTART_ATTEMPTS ? CREATE_RESTART_MS : Number.POSITIVE_INFINITY);
    } catch (error) {
      if (error instanceof EventLogClosedError || !isTransient(error)) throw error;
      lastError = error;
    }
    const wait = retryDelay(attempt);
    if (Date.now() + wait >= deadline) {
      throw new EventLogReadError(`could not read ${options.filter ?? options.stream} within ${options.timeoutMs} ms (${attempt} attempt(s); last error: ${errorText(lastError)})`, { cause: lastError });
    }
    await sleep(wait);
  }
}

class ReadRestart extends Error {}

function readOnce(options: ReadOptions, sink: (msg: RawMessage) => void, deadline: number, leaderLastSeq: number, leader: string | undefined, createRestartMs: number): Promise<number> {
  const { nc, jsm, stream, filter } = options;
  const what = filter ?? stream;
  return new Promise<number>((resolve, reject) => {
    const inbox = createInbox();
    let received = 0;
    /** Messages to receive before this replica's snapshot of the stream is exhausted. */
    let target = Number.POSITIVE_INFINITY;
    let caughtUp = false;
    let caughtUpAt = 0;
    /** The stream sequence this replica is known to have applied. */
    let applied = 0;
    /** The stream sequence this replica must have applied (0 once the consumer is known to be on the leader). */
    let need = leaderLastSeq;
    let consumerName: string | undefined;
    let polling = false;
    let settled = false;
    let lastActivity = Date.now();
    const startedAt = Date.now();
    let sub: Subscription | undefined;

    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      sub?.unsubscribe();
      if (consumerName !== undefined && !nc.isClosed()) jsm.consumers.delete(stream, consumerName).catch(() => {});
      if (error === undefined) resolve(received);
      else reject(error);
    };

    const check = (): void => {
      if (settled || !caughtUp) return;
      if (applied >= need) return finish();
      if (caughtUpAt === 0) caughtUpAt = Date.now();
      if (!polling && consumerName !== undefined) void poll(consumerName);
    };

    // The replica lags: ask the consumer (answered by the replica hosting it) how far it scanned.
    const poll = async (name: string): Promise<void> => {
      polling = true;
      try {
        while (!settled && applied < need) {
          const ci = await jsm.consumers.info(stream, name);
          if (settled) return;
          lastActivity = Date.now();
          if (ci.delivered.consumer_seq === received) applied = Math.max(applied, ci.delivered.stream_seq);
          if (applied >= need) return check();
          await sleep(POSITION_POLL_MS);
        }
      } catch (error) {
        finish(error);
      } finally {
        polling = false;
      }
    };

    const watchdog = setInterval(() => {
      if (options.closed()) finish(new EventLogClosedError());
      else if (Date.now() > deadline) finish(new ReadRestart(`read of ${what} timed out after ${received} message(s)`));
      else if (consumerName !== undefined && Date.now() - lastActivity > STALL_MS) finish(new ReadRestart(`read of ${what} stalled after ${received} message(s)`));
      else if (options.replicated && consumerName === undefined && received === 0 && Date.now() - startedAt > createRestartMs) finish(new ReadRestart(`the consumer for the read of ${what} was not created within ${createRestartMs} ms (placed on an unreachable server?)`));
      else if (caughtUpAt !== 0 && Date.now() - caughtUpAt > LAG_RESTART_MS) finish(new ReadRestart(`the replica serving the read of ${what} is behind the leader (at ${applied}, leader at ${need})`));
    }, 250);

    const onMessage = (msg: Msg): void => {
      if (settled) return;
      lastActivity = Date.now();
      const reply = msg.reply ?? "";
      if (reply.startsWith("$JS.ACK.")) {
        const info = parseAckSubject(reply);
        if (info === null) return finish(new ReadRestart(`unexpected reply subject ${reply.slice(0, 120)}`));
        if (info.consumerSeq !== received + 1) return finish(new ReadRestart(`gap in delivery (expected ${received + 1}, got ${info.consumerSeq})`));
        received++;
        if (info.streamSeq > applied) applied = info.streamSeq;
        try {
          sink({ subject: msg.subject, streamSeq: info.streamSeq, data: msg.data });
        } catch (error) {
          return finish(error);
        }
        if (received === 1) target = info.consumerSeq + info.pending;
        if (info.pending === 0 || received >= target) caughtUp = true;
        return check();
      }
      // Status messages from the server: flow control, idle heartbeats, consumer deleted.
      const h = msg.headers;
      const code = h?.code ?? 0;
      if (code === 100) {
        if (reply !== "") {
          msg.respond(); // flow control request
          return;
        }
        const stalled = h?.get("Nats-Consumer-Stalled") ?? "";
        if (stalled !== "") nc.publish(stalled);
        const last = Number.parseInt(h?.get("Nats-Last-Consumer") ?? "", 10);
        if (Number.isInteger(last) && last > received) return finish(new ReadRestart(`gap in delivery (heartbeat says ${last}, received ${received})`));
        if (stalled === "" && last === received) {
          // Idle with nothing missing: this replica has nothing more to deliver now.
          const lastStream = Number.parseInt(h?.get("Nats-Last-Stream") ?? "", 10);
          if (Number.isSafeInteger(lastStream) && lastStream > applied) applied = lastStream;
          caughtUp = true;
          check();
        }
        return;
      }
      if (code >= 400) finish(new ReadRestart(`read consumer ended: ${code} ${h?.description ?? ""}`));
    };

    try {
      sub = nc.subscribe(inbox, { callback: (err, msg) => (err ? finish(err) : onMessage(msg)) });
    } catch (error) {
      return finish(error);
    }
    jsm.consumers
      .add(stream, {
        deliver_subject: inbox,
        deliver_policy: DeliverPolicy.All,
        ack_policy: AckPolicy.None,
        replay_policy: ReplayPolicy.Instant,
        ...(filter === undefined ? {} : { filter_subject: filter }),
        flow_control: true,
        idle_heartbeat: nanos(HEARTBEAT_MS),
        inactive_threshold: nanos(10_000),
        mem_storage: true,
        num_replicas: 1,
      })
      .then((info) => {
        consumerName = info.name;
        lastActivity = Date.now();
        if (settled) {
          jsm.consumers.delete(stream, info.name).catch(() => {});
          return;
        }
        // On the leader (or a single replica), the store holds everything acknowledged.
        if (leader === undefined || info.cluster?.leader === leader) need = 0;
        if (info.num_pending === 0 && info.delivered.consumer_seq === 0) caughtUp = true;
        check();
      })
      .catch((error: unknown) => finish(error));
  });
}

/**
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (9 tokens) or the v2 form
 * with domain and account hash before the stream (12 tokens).
 */
export function parseAckSubject(reply: string): { streamSeq: number; consumerSeq: number; pending: number } | null {
  const t = reply.split(".");
  const base = t.length === 9 ? 4 : t.length >= 11 ? 6 : -1;
  if (base < 0) return null;
  const streamSeq = Number(t[base + 1]);
  const consumerSeq = Number(t[base + 2]);
  const pending = Number(t[base + 4]);
  if (!Number.isSafeInteger(streamSeq) || !Number.isSafeInteger(consumerSeq) || !Number.isSafeInteger(pending) || streamSeq < 1 || consumerSeq < 1 || pending < 0) return null;
  return { streamSeq, consumerSeq, pending };
}
