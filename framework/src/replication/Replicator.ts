import type { Logger } from "pino";
import type { Activation, CommittedTurn } from "../actor/Activation.js";
import type { ActorRecord } from "../actor/record.js";
import type { ActorType } from "../actor/defineActor.js";
import { MalformedMessageError, PayloadTooLargeError, ReplicationError } from "../errors.js";
import type { PartitionTable } from "../placement/index.js";
import { stringify } from "../state/serializer.js";
import { limitedLog } from "../node/logger.js";
import type { ControlMessage } from "../transport/control.js";
import { actorKey, splitActorKey, type ReplItem, type ReplReply } from "./items.js";
import { batchBudget, encodeItem, type WireItem } from "./itemWire.js";
import type { EventLog } from "./log/index.js";

/** What the replicator needs from its node. */
export interface ReplicatorDeps {
  readonly selfId: string;
  readonly log: Logger;
  /** Sends a control message whose `items` are already encoded (see itemWire.ts). */
  sendItems(target: string, head: ControlMessage, items: readonly string[], timeoutMs: number): Promise<unknown>;
  /** The server's `max_payload`. */
  maxPayload(): number;
  table(): PartitionTable | null;
  epoch(): number;
  /** The epoch at which this node took `partition` over (fences its log writes). */
  ownershipEpoch(partition: number): number;
  leaseValid(): boolean;
  /** The committed record of an actor this node owns, for a full resync of a backup. */
  recordOf(type: string, id: string): ActorRecord | undefined;
  eventLog(): EventLog | null;
  /** How long a sync turn waits for its acknowledgements. Default 5000. */
  readonly syncTimeoutMs?: number;
}

/** Counts and gauges exported per node. */
export interface ReplicationStats {
  deltas: number;
  fullRecords: number;
  /** Bytes of replication messages sent to backups, as encoded (resends included; counted by the node's transport), plus payload bytes appended to the log. */
  bytes: number;
  /** Sync turns whose acknowledgements came too late (their callers got `ReplicationError`). */
  syncFailures: number;
  /** Writes that wanted more backups than the cluster has. */
  underReplicated: number;
  /** Items a backup refused as malformed or too large (a bug): dropped, their actor resent in full. */
  refusedItems: number;
  logAppends: number;
  logFailures: number;
  /** Oldest unacknowledged item per backup, max over backups (ms): the replication lag. */
  lagMs: number;
  /** Log append latency, p50 / p99 (ms) over the last 1024 appends (the event log's window, read every 100 ms). */
  logP50Ms: number;
  logP99Ms: number;
}

interface Waiter {
  readonly key: string;
  readonly partition: number;
  readonly seq: number;
  readonly need: number;
  readonly deadline: number;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A queued item in its wire form (or one piece of it: `partial` for every piece but the last).
 * It keeps what acknowledging it needs, not the item: the delta's values die young instead of
 * surviving, in flight, into the old generation.
 */
interface Sendable {
  readonly key: string;
  readonly p: number;
  readonly s: number;
  /** A tombstone (its confirmation ends the actor's entry in `acked`). */
  readonly tomb: boolean;
  readonly committedAt: number;
  readonly text: string;
  readonly partial: boolean;
}

/** One owner → backup stream: a queue sent when its first item is due (one message in flight), resent until acknowledged. */
class Channel {
  queue: Sendable[] = [];
  /**
   * When the queue must leave at the latest: the earliest time one of its items is due (a
   * background delta lingers for company; anything a reply waits for, a resend or a remainder
   * is due at once). Meaningless while the queue is empty: the next item sets it.
   */
  dueAt = 0;
  /** The highest sequence the backup confirmed, per actor key. */
  readonly acked = new Map<string, number>();
  /** Items sent and not yet confirmed, oldest first (for the lag). */
  inFlight: Sendable[] = [];
  sending = false;
  failures = 0;
  /**
   * Items per message. After a message is refused as malformed (an item the backup cannot
   * read — a bug, never the network), the next ones carry half as many, down to the one item
   * that is refused alone; the first message accepted restores the bound.
   */
  limit = MAX_ITEMS_PER_MESSAGE;
  /** Actors sent in full because an item of theirs was refused, until the backup holds them. */
  readonly resentFull = new Set<string>();
  /** Whether a refusal was logged since the last message the backup accepted (one error line per episode, not per item). */
  refusing = false;
  constructor(readonly target: string) {}
}

const MAX_ITEMS_PER_MESSAGE = 500;
/** Items that make a lingering queue leave before it is due: a full enough message. */
const LINGER_ENOUGH = 256;

/**
 * The owner side of replication. For each committed turn, the actor type's policy plans where
 * the delta goes; the replicator sends it to the partition's backups (batched per backup, per
 * event-loop turn) and/or appends it to the event log, and — for sync plans — releases the
 * reply only when enough of them confirmed *and* this node's lease still holds (so a node
 * that was cut off can never acknowledge a write a successor does not have).
 */
export class Replicator {
  private readonly channels = new Map<string, Channel>();
  /** Sync turns waiting for their acknowledgements, by actor key: an acknowledgement looks only at the actors it advanced. */
  private readonly waiters = new Map<string, Waiter[]>();
  private flushScheduled = false;
  /** The timer that sends lingering items when they fall due, and when it fires. */
  private lingerTimer: NodeJS.Timeout | null = null;
  private lingerAt = Number.POSITIVE_INFINITY;
  /** The last item encoded, so an item queued for several backups is encoded once. */
  private lastEncoded: { readonly item: ReplItem; readonly wire: readonly WireItem[] } | null = null;
  /**
   * Per actor key, what this node wrote of it to the event log: in which ownership epoch, the
   * highest sequence the log holds together with everything before it, and the messages
   * appended since the last snapshot. Absent — never written, an append failed, or from an
   * earlier ownership of the partition — the next append is a snapshot (the log may have a gap,
   * or have moved on while another node owned it). Only a snapshot creates it.
   */
  private readonly logState = new Map<string, { readonly epoch: number; acked: number; since: number }>();
  /**
   * Per actor key, the settlement of its latest append *and every earlier one it builds on*: a
   * delta is confirmed only once the log holds every entry back to the last snapshot, so an
   * acknowledged turn is never behind a gap that replay would stop at.
   */
  private readonly logTail = new Map<string, Promise<void>>();
  readonly stats: ReplicationStats = { deltas: 0, fullRecords: 0, bytes: 0, syncFailures: 0, underReplicated: 0, refusedItems: 0, logAppends: 0, logFailures: 0, lagMs: 0, logP50Ms: 0, logP99Ms: 0 };
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Rejected when this node loses its lease (and replaced): a sync turn waiting for the log stops waiting then. */
  private leaseGate = leaseGate();

  private readonly logTooLarge: (fields: Record<string, unknown>) => void;

  constructor(private readonly deps: ReplicatorDeps) {
    this.logTooLarge = limitedLog(deps.log, "warn", "an actor's turn is too large for the event log: it fails, and the actor here is ahead of its log (keep the state smaller; see docs/guides/nats.md#sizing)");
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
  }

  /** Replicates a committed turn; the returned promise (sync plans) gates the caller's reply. */
  committed(turn: CommittedTurn): Promise<void> | undefined {
    const { act } = turn;
    const policy = act.type.backup;
    if (!policy.replicates) return undefined;
    const plan = policy.plan({ actorType: act.type.name, actorId: act.id, handler: turn.handler, destroyed: turn.destroyed });
    const p = act.partition;
    const key = actorKey(act.type.name, act.id);
    const now = Date.now();
    const item: ReplItem = turn.destroyed
      ? { k: "x", p, t: act.type.name, i: act.id, s: turn.seq }
      : {
          k: "d",
          p,
          t: act.type.name,
          i: act.id,
          s: turn.seq,
          d: turn.delta ?? [],
          ...(turn.timersChanged ? { tm: act.timers, ts: act.timerSeq } : {}),
          ...(turn.call !== undefined ? { c: turn.call } : {}),
          lu: act.lastUsed,
        };
    const backups = this.backupsOf(p);
    const wanted = plan.syncBackups + plan.asyncBackups;
    if (wanted > backups.length) this.stats.underReplicated++;
    const targets = backups.slice(0, wanted);
    this.stats.deltas++;
    const waits: Promise<void>[] = [];
    const syncN = Math.min(plan.syncBackups, backups.length);
    // Background replication fell too far behind: this reply waits until its own delta is held.
    const behind = syncN === 0 && policy.maxLagMs !== undefined && targets.length > 0 && this.lagMs(now) > policy.maxLagMs;
    // A delta no reply waits for may linger for company; the first `syncBackups` targets are waited for.
    const linger = behind ? 0 : (policy.lingerMs ?? 0);
    for (let x = 0; x < targets.length; x++) this.enqueue(targets[x] as string, item, key, now, x < syncN ? now : now + linger);
    if (syncN > 0) waits.push(this.waitFor(key, p, turn.seq, syncN));
    else if (behind) waits.push(this.waitFor(key, p, turn.seq, 1));
    const eventLog = this.deps.eventLog();
    if (eventLog !== null && (plan.syncLog || plan.asyncLog)) {
      const append = this.appendToLog(eventLog, turn, key);
      if (plan.syncLog) waits.push(this.untilLeaseLost(append));
      else append.catch(() => undefined);
    } else if (plan.syncLog) {
      waits.push(Promise.reject(new ReplicationError("the event log is not available on this node")));
    }
    if (turn.destroyed) this.forget(key);
    if (waits.length === 0) return undefined;
    return this.gate(waits);
  }

  /**
   * What a sync turn's reply waits for: every wait, and this node's lease holding afterwards —
   * then no successor can have taken over yet.
   */
  private gate(waits: readonly Promise<void>[]): Promise<void> {
    return Promise.all(waits).then(() => {
      if (!this.deps.leaseValid()) throw new ReplicationError(LEASE_LAPSED);
    });
  }

  /** A log append a reply waits for, given up when the lease is lost (backup waiters are rejected by `leaseLost` itself). */
  private untilLeaseLost(append: Promise<void>): Promise<void> {
    return Promise.race([append, this.leaseGate.promise]);
  }

  /**
   * This node lost its membership lease (out of touch with NATS, or paused): every sync turn still
   * waiting fails now with `ReplicationError` instead of at its deadline — its acknowledgements
   * could not be used any more. Its caller cannot tell whether the write took effect (as at the
   * deadline) and retries with the same call id.
   */
  leaseLost(): void {
    const error = new ReplicationError(LEASE_LAPSED);
    for (const w of [...this.allWaiters()]) {
      this.removeWaiter(w);
      this.stats.syncFailures++;
      w.reject(error);
    }
    const lost = this.leaseGate;
    this.leaseGate = leaseGate();
    lost.reject(error);
  }

  /**
   * Waits until the actor's committed state (its current sequence) is held where its policy's
   * sync plan requires — backups and/or the event log — resending it in full where it is not,
   * while this node's lease holds. For a retried call whose first replication failed or is still
   * unconfirmed: its outcome is answered only after this.
   */
  reconfirm(act: Activation): Promise<void> {
    const policy = act.type.backup;
    if (!policy.replicates) return Promise.resolve();
    const plan = policy.plan({ actorType: act.type.name, actorId: act.id, handler: "retry", destroyed: false });
    const key = actorKey(act.type.name, act.id);
    const p = act.partition;
    const record = act.toRecord();
    const seq = act.seq;
    const waits: Promise<void>[] = [];
    const backups = this.backupsOf(p);
    const need = Math.min(plan.syncBackups, backups.length);
    if (need > 0) {
      const now = Date.now();
      for (const t of backups.slice(0, need)) {
        if ((this.channels.get(t)?.acked.get(key) ?? -1) < seq) this.enqueue(t, fullItem(p, act.type.name, act.id, record), key, now, now);
      }
      waits.push(this.waitFor(key, p, seq, need));
    }
    if (plan.syncLog) {
      const eventLog = this.deps.eventLog();
      if (eventLog === null) waits.push(Promise.reject(new ReplicationError("the event log is not available on this node")));
      else if ((this.logState.get(key)?.acked ?? -1) < seq) {
        this.logState.delete(key); // a snapshot: the log holds the whole state at `seq` however earlier appends went
        waits.push(this.untilLeaseLost(this.appendToLog(eventLog, { act, handler: "retry", seq, call: undefined, delta: null, timersChanged: false, destroyed: false }, key)));
      }
    }
    return this.gate(waits);
  }

  /**
   * An actor expired (no turn ran): its backups and log entries go too. `seq` is the tombstone's
   * sequence, one past the actor's last turn (the host continues from it if the id comes back).
   */
  destroyedPassive(type: ActorType, id: string, partition: number, seq: number): void {
    const policy = type.backup;
    if (!policy.replicates) return;
    const plan = policy.plan({ actorType: type.name, actorId: id, handler: "expire", destroyed: true });
    const item: ReplItem = { k: "x", p: partition, t: type.name, i: id, s: seq };
    const key = actorKey(type.name, id);
    const now = Date.now();
    for (const t of this.backupsOf(partition).slice(0, plan.syncBackups + plan.asyncBackups)) this.enqueue(t, item, key, now, now);
    const eventLog = this.deps.eventLog();
    if (eventLog !== null && (plan.syncLog || plan.asyncLog) && seq > 1) {
      // A tombstone first, then a purge bounded by it: entries of a new actor with this id,
      // appended meanwhile, are after the tombstone and survive.
      eventLog
        .append({ kind: "tombstone", actorType: type.name, actorId: id, partition, epoch: this.deps.ownershipEpoch(partition), seq, payload: Buffer.from("{}") })
        .then((ack) => eventLog.purgeActor(type.name, id, partition, { before: ack.streamSeq + 1 }))
        .catch((err: unknown) => this.deps.log.debug({ err, actor: type.name, id }, "could not purge an expired actor's log entries"));
    }
    this.forget(key);
  }

  /** Sends every actor of `partition` to its current backups in full (after a takeover or a backup change). */
  syncPartition(partition: number, actors: ReadonlyArray<{ type: string; id: string; record: ActorRecord }>): void {
    const backups = this.backupsOf(partition);
    const now = Date.now();
    for (const a of actors) {
      const item = fullItem(partition, a.type, a.id, a.record);
      const key = actorKey(a.type, a.id);
      for (const t of backups) this.enqueue(t, item, key, now, now);
    }
  }

  /**
   * Whether anything of `partition` is still unconfirmed by its backups (a move waits for this).
   * Lingering items of the partition are sent at once: someone is waiting for them.
   */
  pending(partition: number): boolean {
    let pending = false;
    for (const ch of this.channels.values()) {
      if (ch.queue.some((q) => q.p === partition)) {
        pending = true;
        ch.dueAt = 0;
        this.scheduleFlush();
      }
      if (ch.inFlight.some((q) => q.p === partition)) pending = true;
    }
    if (pending) return true;
    for (const w of this.allWaiters()) if (w.partition === partition) return true;
    return false;
  }

  /**
   * How far the stream to backup `target` lags (ms): the age of its oldest unconfirmed item, 0
   * when everything sent to it is confirmed. Backup reads bound their staleness with it.
   */
  lagTo(target: string): number {
    const ch = this.channels.get(target);
    if (ch === undefined) return 0;
    const now = Date.now();
    return now - Math.min(now, oldestIn(ch));
  }

  /** Forgets a partition this node no longer owns. */
  dropPartition(partition: number): void {
    for (const ch of this.channels.values()) {
      ch.queue = ch.queue.filter((q) => q.p !== partition);
      ch.inFlight = ch.inFlight.filter((q) => q.p !== partition);
    }
  }

  /** Re-targets waiting turns after a view change: new backups get full records. */
  viewChanged(): void {
    const now = Date.now();
    for (const w of [...this.allWaiters()]) {
      const backups = this.backupsOf(w.partition);
      for (const t of backups.slice(0, w.need)) {
        const ch = this.channels.get(t);
        if ((ch?.acked.get(w.key) ?? -1) >= w.seq) continue;
        const { type, id } = splitActorKey(w.key);
        const record = this.deps.recordOf(type, id);
        if (record !== undefined) this.enqueue(t, fullItem(w.partition, type, id, record), w.key, now, now);
      }
      this.check(w);
    }
    // Channels to nodes that left the view are closed; their waiters were re-targeted above.
    const members = new Set(this.deps.table()?.members ?? []);
    for (const [target, ch] of this.channels) if (!members.has(target) && ch.queue.length + ch.inFlight.length === 0) this.channels.delete(target);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    for (const w of this.allWaiters()) w.reject(new ReplicationError("the node is stopping"));
    this.waiters.clear();
  }

  // ---- internals ----

  private backupsOf(partition: number): readonly string[] {
    const table = this.deps.table();
    if (table === null || table.members.length === 0) return [];
    return table.backupsOf(partition);
  }

  /**
   * Queues an item for a backup. It leaves once it is `due` (at once, or after lingering for
   * company), and the channel's message in flight, if any, is answered; items queued meanwhile
   * share its message.
   */
  private enqueue(target: string, item: ReplItem, key: string, committedAt: number, due: number): void {
    let ch = this.channels.get(target);
    if (ch === undefined) this.channels.set(target, (ch = new Channel(target)));
    // Encoded once however many backups it goes to (they are queued one after another).
    if (this.lastEncoded?.item !== item) this.lastEncoded = { item, wire: encodeItem(item) };
    ch.dueAt = ch.queue.length === 0 ? due : Math.min(ch.dueAt, due);
    for (const w of this.lastEncoded.wire) ch.queue.push(sendable(item, key, committedAt, w));
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A microtask, not setImmediate: a batch leaves in this event-loop turn (the transport
    // sends everything queued in a turn at its end), so a sync reply does not wait a whole
    // extra turn of a busy loop. Turns committed in the same tick still share the message.
    queueMicrotask(() => this.flush());
  }

  /**
   * Sends each idle channel's queue once its first item is due or it holds `LINGER_ENOUGH`.
   * One message per channel is in flight at a time, so items committed meanwhile share the next
   * one: batches grow with the load by themselves. Background items also linger (the policy's
   * `lingerMs`): with nodes in one process that saved nothing measurable, but across processes,
   * where each NATS message costs the server and both sockets, it made async writes ~15% cheaper.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const ch of this.channels.values()) {
      if (ch.sending || ch.queue.length === 0) continue;
      if (ch.dueAt <= now || ch.queue.length >= LINGER_ENOUGH) void this.send(ch);
      else next = Math.min(next, ch.dueAt);
    }
    if (next < this.lingerAt) {
      // Lingering items leave when the first of them falls due (a later flush may send them sooner).
      if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
      this.lingerAt = next;
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.lingerAt = Number.POSITIVE_INFINITY;
        this.flush();
      }, Math.max(0, next - now));
      this.lingerTimer.unref();
    }
  }

  private async send(ch: Channel): Promise<void> {
    if (this.closed) return;
    ch.sending = true;
    let count = 0;
    let chars = 0;
    const budget = batchBudget(this.deps.maxPayload());
    for (const q of ch.queue) {
      if (count >= ch.limit || (count > 0 && chars + q.text.length > budget)) break;
      count++;
      chars += q.text.length;
    }
    const batch = ch.queue.splice(0, count);
    ch.dueAt = 0; // what a full message left behind goes next
    // One message in flight per channel: what is in flight is this batch (less what a dropped partition took).
    ch.inFlight = batch;
    try {
      const reply = (await this.deps.sendItems(ch.target, { op: "repl", e: this.deps.epoch(), from: this.deps.selfId }, batch.map((q) => q.text), 3_000)) as ReplReply;
      ch.failures = 0;
      ch.limit = MAX_ITEMS_PER_MESSAGE;
      ch.refusing = false;
      ch.inFlight = [];
      if (reply.rejected === undefined) {
        // The backup holds every item of the batch except those of the actors it needs in full.
        const missing = new Set(reply.needFull);
        const advanced = this.waiters.size > 0 ? new Set<string>() : null;
        for (const { key, s, partial } of batch) {
          if (partial) continue; // held once its last piece is
          if (!missing.has(key) && s > (ch.acked.get(key) ?? -1)) {
            ch.acked.set(key, s);
            if (ch.resentFull.size > 0) ch.resentFull.delete(key);
            advanced?.add(key);
          }
        }
        for (const key of missing) this.resendFull(ch, key, batch);
        // Only waiters of actors this batch advanced can have become held.
        if (advanced !== null) {
          for (const key of advanced) {
            const ws = this.waiters.get(key);
            // Backwards: a waiter found held is removed from this list.
            if (ws !== undefined) for (let x = ws.length - 1; x >= 0; x--) this.check(ws[x] as Waiter);
          }
        }
        // A tombstone's confirmation is needed only by its own turn: then forget the actor, or
        // every destroyed session would stay in `acked` for good.
        for (const q of batch) if (q.tomb && ch.acked.get(q.key) === q.s) ch.acked.delete(q.key);
      }
    } catch (err) {
      ch.inFlight = [];
      if (err instanceof MalformedMessageError || err instanceof PayloadTooLargeError) {
        // Sending the same items again cannot succeed: find the one the backup cannot take.
        if (batch.length > 1) {
          resend(ch, batch);
          ch.limit = Math.ceil(batch.length / 2);
        } else if (batch[0] !== undefined) {
          this.refused(ch, batch[0], err);
        }
        return;
      }
      // Resent later; applying is idempotent on the backup.
      ch.failures++;
      resend(ch, batch);
      this.deps.log.debug({ err, target: ch.target, items: batch.length }, "replication send failed; retrying");
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** Math.min(ch.failures, 4), 800)));
    } finally {
      ch.sending = false;
      if (ch.queue.length > 0) this.scheduleFlush();
    }
  }

  /**
   * A backup refused `q` on its own. The other pieces of its item go too, and the actor is sent
   * in full instead: the backup then has all of it, however the item was malformed. If that is
   * refused as well, the actor is given up on for now: its waiters fail, and its next turn tries
   * again (the backup asks for the record when a delta finds no copy).
   */
  private refused(ch: Channel, q: Sendable, err: Error): void {
    const { key } = q;
    const { type, id } = splitActorKey(key);
    this.stats.refusedItems++;
    const fields = { err, target: ch.target, actor: type, id, seq: q.s, kind: q.text[0] };
    if (ch.refusing) this.deps.log.debug(fields, "a backup refused a replication item");
    else this.deps.log.error(fields, "a backup refused a replication item (more are logged at debug level until it accepts one); the actor is sent in full instead");
    ch.refusing = true;
    ch.queue = ch.queue.filter((x) => !(x.key === key && x.s === q.s));
    if (!ch.resentFull.has(key) && this.deps.recordOf(type, id) !== undefined) {
      ch.resentFull.add(key);
      this.resendFull(ch, key, [q]);
      return;
    }
    ch.resentFull.delete(key);
    const ws = this.waiters.get(key) ?? [];
    this.waiters.delete(key);
    for (const w of ws) {
      this.stats.syncFailures++;
      w.reject(new ReplicationError(`backup ${ch.target} refused the replication of ${key}: ${err.message}`));
    }
  }

  private resendFull(ch: Channel, key: string, sent: readonly Sendable[]): void {
    const { type, id } = splitActorKey(key);
    const record = this.deps.recordOf(type, id);
    if (record === undefined) return; // gone (moved or destroyed): nothing to resync
    // The partition comes from the item the backup could not apply (async plans have no waiter).
    const mine = (q: Sendable): boolean => q.key === key;
    const p = sent.find(mine)?.p ?? ch.queue.find(mine)?.p ?? this.waiters.get(key)?.[0]?.partition;
    if (p === undefined) return;
    this.stats.fullRecords++;
    const item = fullItem(p, type, id, record);
    const now = Date.now();
    resend(ch, encodeItem(item).map((w) => sendable(item, key, now, w)));
  }

  private waitFor(key: string, partition: number, seq: number, need: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const w: Waiter = { key, partition, seq, need, deadline: Date.now() + (this.deps.syncTimeoutMs ?? 5_000), resolve, reject };
      const same = this.waiters.get(key);
      if (same === undefined) this.waiters.set(key, [w]);
      else same.push(w);
      this.check(w); // held already (a reconfirmation after the acknowledgement arrived)
    });
  }

  /** Resolves a waiter once `need` current backups hold its sequence. */
  private check(w: Waiter): void {
    const backups = this.backupsOf(w.partition);
    let held = 0;
    for (const t of backups) if ((this.channels.get(t)?.acked.get(w.key) ?? -1) >= w.seq) held++;
    if (held >= Math.min(w.need, backups.length)) {
      this.removeWaiter(w);
      w.resolve();
    }
  }

  private removeWaiter(w: Waiter): void {
    const same = this.waiters.get(w.key);
    if (same === undefined) return;
    const at = same.indexOf(w);
    if (at >= 0) same.splice(at, 1);
    if (same.length === 0) this.waiters.delete(w.key);
  }

  private *allWaiters(): Generator<Waiter> {
    for (const ws of this.waiters.values()) yield* ws;
  }

  private tick(): void {
    const now = Date.now();
    for (const w of [...this.allWaiters()]) {
      if (w.deadline > now) continue;
      this.removeWaiter(w);
      this.stats.syncFailures++;
      w.reject(new ReplicationError(`no acknowledgement from the backups of partition ${w.partition} within ${this.deps.syncTimeoutMs ?? 5_000} ms`));
    }
    this.stats.lagMs = this.lagMs(now);
    // Log append latency, from the log's own window (it measures every append, retries included).
    const log = this.deps.eventLog()?.stats();
    if (log !== undefined) {
      this.stats.logP50Ms = log.appendLatencyP50Ms;
      this.stats.logP99Ms = log.appendLatencyP99Ms;
    }
    // Items stuck in a channel whose sends keep failing are retried by `send`; nothing else to do.
  }

  /** The replication lag over every backup (ms): the age of the oldest unconfirmed item. */
  private lagMs(now: number): number {
    let oldest = now;
    for (const ch of this.channels.values()) oldest = Math.min(oldest, oldestIn(ch));
    return now - oldest;
  }

  private forget(key: string): void {
    for (const ch of this.channels.values()) ch.acked.delete(key);
    this.logState.delete(key);
  }

  /**
   * Appends a turn's entry and returns when the log holds it and everything it builds on. A
   * snapshot or tombstone stands alone; a delta also waits for the actor's previous append —
   * which may land in the stream after it (a retry through a leader election), harmless since
   * reads order an actor's entries by sequence, but if that append fails for good, this turn
   * fails with it (its caller retries, and the retry writes a snapshot).
   */
  private appendToLog(eventLog: EventLog, turn: CommittedTurn, key: string): Promise<void> {
    const { act } = turn;
    const epoch = this.deps.ownershipEpoch(act.partition);
    let kind: "delta" | "snapshot" | "tombstone" = "tombstone";
    let payload = Buffer.from("{}");
    if (!turn.destroyed) {
      const st = this.logState.get(key);
      if (st !== undefined && st.epoch === epoch) {
        payload = Buffer.from(stringify({ d: turn.delta ?? [], ...(turn.timersChanged ? { tm: act.timers, ts: act.timerSeq } : {}), ...(turn.call ? { c: turn.call } : {}), lu: act.lastUsed }), "utf8");
        const messages = eventLog.messagesFor(payload.length);
        // Snapshots bound replay, and keep the last one within the stream's per-actor retention.
        if (st.since + messages <= eventLog.messagesBetweenSnapshots) {
          st.since += messages;
          kind = "delta";
        }
      }
      if (kind !== "delta") {
        kind = "snapshot";
        payload = Buffer.from(stringify(act.toRecord()), "utf8");
        this.logState.set(key, { epoch, acked: st?.epoch === epoch ? st.acked : -1, since: 0 });
      }
    }
    const before = kind === "delta" ? this.logTail.get(key) : undefined;
    const own = this.appendEntry(eventLog, turn, key, kind, payload, epoch);
    const done = before === undefined ? own : Promise.all([before, own]).then(() => undefined);
    this.logTail.set(key, done);
    const settle = (held: boolean): void => {
      if (this.logTail.get(key) === done) this.logTail.delete(key);
      const st = held && !turn.destroyed ? this.logState.get(key) : undefined;
      if (st !== undefined && st.epoch === epoch && turn.seq > st.acked) st.acked = turn.seq;
    };
    done.then(
      () => settle(true),
      () => settle(false),
    );
    return done;
  }

  private async appendEntry(eventLog: EventLog, turn: CommittedTurn, key: string, kind: "delta" | "snapshot" | "tombstone", payload: Buffer, epoch: number): Promise<void> {
    const { act } = turn;
    try {
      const ack = await eventLog.append({ kind, actorType: act.type.name, actorId: act.id, partition: act.partition, epoch, seq: turn.seq, payload });
      if (turn.destroyed) {
        // The history ends here: delete it, up to this tombstone only (see destroyedPassive).
        eventLog.purgeActor(act.type.name, act.id, act.partition, { before: ack.streamSeq + 1 }).catch((err: unknown) => this.deps.log.debug({ err, actor: act.type.name, id: act.id }, "could not purge a destroyed actor's log entries"));
      }
      this.stats.logAppends++;
      this.stats.bytes += payload.length;
    } catch (error) {
      this.stats.logFailures++;
      this.logState.delete(key); // the next append is a snapshot (later successes create no state)
      if (error instanceof PayloadTooLargeError) {
        // Not worth a retry: the entry can never fit. The caller learns it at once (a retry of a
        // ReplicationError would append the whole state again, and fail again, until its deadline).
        this.logTooLarge({ actor: act.type.name, id: act.id, bytes: payload.length, limit: error.limit });
        throw new PayloadTooLargeError(error.limit, error.size, `the event log entry of ${act.type.name}/${act.id} (${kind}; the turn is not in the log, and this node's copy of the actor is ahead of it until a smaller turn succeeds)`);
      }
      throw new ReplicationError("the event log did not acknowledge the delta", { cause: error });
    }
  }
}

const LEASE_LAPSED = "this node's membership lease lapsed before the acknowledgements arrived (the write may or may not have taken effect; retry it)";

/** A promise that only ever rejects, when its holder says so (never unhandled: nobody may be racing it). */
function leaseGate(): { readonly promise: Promise<never>; readonly reject: (error: Error) => void } {
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<never>((_resolve, r) => {
    reject = r;
  });
  promise.catch(() => undefined);
  return { promise, reject };
}

/** The queue entry of an encoded item (or of one of its pieces). */
function sendable(item: ReplItem, key: string, committedAt: number, w: WireItem): Sendable {
  return { key, p: item.p, s: item.s, tomb: item.k === "x", committedAt, text: w.text, partial: w.partial };
}

/** Puts items back at the head of a channel's queue, due at once (a resend, or a record sent in full). */
function resend(ch: Channel, items: readonly Sendable[]): void {
  ch.queue.unshift(...items);
  ch.dueAt = 0;
}

/** The full-record item of an actor: for a backup that has no copy, or fell behind. */
function fullItem(p: number, type: string, id: string, record: ActorRecord): ReplItem {
  return { k: "f", p, t: type, i: id, s: record.seq ?? 0, r: record };
}

/** When the oldest item of a channel not yet confirmed was committed (Infinity: none). In-flight items are older than queued ones, each list oldest first. */
function oldestIn(ch: Channel): number {
  return Math.min(ch.inFlight[0]?.committedAt ?? Number.POSITIVE_INFINITY, ch.queue[0]?.committedAt ?? Number.POSITIVE_INFINITY);
}
