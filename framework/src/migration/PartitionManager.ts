import type { Logger } from "pino";
import type { SnapshotFrom } from "xstate";
import type { ActorHost } from "../actor/ActorHost.js";
import { checkRecord, checkSerializedActor, type ActorEntry, type ActorRecord, type SerializedActor } from "../actor/record.js";
import { MalformedMessageError, NotOwnerError } from "../errors.js";
import type { View } from "../membership/types.js";
import type { PartitionTable } from "../placement/index.js";
import type { BackupStore } from "../replication/BackupStore.js";
import { actorKey } from "../replication/items.js";
import type { EventLog } from "../replication/log/index.js";
import { rebuildFromLog } from "../replication/logRecords.js";
import type { Replicator } from "../replication/Replicator.js";
import type { ControlMessage } from "../transport/control.js";
import { CHUNK_CHARS, joinPieces, toChunks } from "./transferChunks.js";
import { initialPartitionSnapshot, nextPartitionSnapshot, partitionMachine, type PartitionEvent, type PartitionState } from "./partitionMachine.js";
import { DURATION_BUCKETS, Histogram } from "../metrics/Histogram.js";
import { WorkSlicer } from "../time/WorkSlicer.js";

/** What the manager needs from its node. */
export interface PartitionManagerDeps {
  readonly selfId: string;
  readonly partitions: number;
  readonly log: Logger;
  readonly host: ActorHost;
  readonly replicator: Replicator;
  readonly backups: BackupStore;
  eventLog(): EventLog | null;
  view(): View;
  table(): PartitionTable | null;
  sendControl(target: string, msg: ControlMessage, timeoutMs: number): Promise<unknown>;
  reconcile(): Promise<void>;
  /** Partitions pulled at once by this node (the move rate limit; recoveries start at once). Default 64. */
  readonly moveConcurrency?: number;
  /** Longest wait for running turns to finish before a move transfers anyway. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** How long a drained partition waits for its new owner before warning (it keeps waiting). Default 60 s. */
  readonly transferTimeoutMs?: number;
}

/** How this node handles a call for a partition right now. */
export type Admission = "run" | "hold" | "elsewhere";

/** Counts of moves and recoveries, exported in node stats. */
export interface MoveStats {
  movesStarted: number;
  movesFinished: number;
  movesAborted: number;
  recoveries: number;
  /** Duration of the last recovery (ms) and the longest one. */
  lastRecoveryMs: number;
  maxRecoveryMs: number;
  /** The longest time a call waited because its partition was moving or recovering (ms). */
  maxHoldMs: number;
  /** Partitions not in a steady state right now, by state. */
  inMotion: Record<string, number>;
}

type Snapshot = SnapshotFrom<typeof partitionMachine>;

interface Slot {
  snap: Snapshot;
  inflight: number;
  /** The previous owner to pull from (awaiting). */
  source: string | null;
  /** The view epoch at which this node took the partition over (fences its log writes). */
  epoch: number;
  /** Actors being handed over (transferring), in chunks that fit a message (see transferChunks.ts). */
  chunks: SerializedActor[][] | null;
  /** Incremented on every state change: an async step started in an older state stops. */
  run: number;
  /** Called once at the next state change: held calls, and pulls waiting for the hand-over. */
  waiting: Array<() => void>;
  since: number;
  /** When the current pull from a peer started (for the move duration). */
  acquiredAt: number;
}

const MAX_HELD = 10_000;
const PULL_TIMEOUT_MS = 3_000;
/** How long a pull that came early waits at the holder for the partition to be ready. */
const PULL_HOLD_MS = 1_000;

interface PullReply {
  readonly status: "wait" | "chunk" | "none" | "refused";
  readonly actors?: SerializedActor[];
  readonly next?: number | null;
  readonly total?: number;
}

/**
 * Runs the partition machines of one node: reacts to view changes, pulls partitions from
 * their previous owners (rate-limited), recovers partitions of dead owners, drains and hands
 * over partitions the view gave away, and decides for every call whether this node runs it,
 * holds it or sends it elsewhere.
 */
export class PartitionManager {
  private readonly slots: Slot[];
  /** Pulls waiting for a slot of the move rate limit, oldest first. */
  private readonly slotWaiters: Array<() => void> = [];
  /** Pulls running (the move rate limit counts these). */
  private active = 0;
  private previous: PartitionTable | null = null;
  /** How long recoveries took, from the first probe to serving (seconds). */
  readonly recoveryDurations = new Histogram(DURATION_BUCKETS);
  /** How long pulls from a live previous owner took, from the view change to serving (seconds). */
  readonly moveDurations = new Histogram(DURATION_BUCKETS);
  readonly stats: MoveStats = { movesStarted: 0, movesFinished: 0, movesAborted: 0, recoveries: 0, lastRecoveryMs: 0, maxRecoveryMs: 0, maxHoldMs: 0, inMotion: {} };
  private stopped = false;
  /**
   * Where the synchronous bulk of recoveries and syncs runs (installing records, encoding them
   * for new backups, copying backup copies for a puller): in slices, so that a node taking over
   * hundreds of partitions at once keeps renewing its lease meanwhile.
   */
  private readonly slicer = new WorkSlicer();

  constructor(private readonly deps: PartitionManagerDeps) {
    this.slots = Array.from({ length: deps.partitions }, () => ({ snap: initialPartitionSnapshot, inflight: 0, source: null, epoch: 0, chunks: null, run: 0, waiting: [], since: Date.now(), acquiredAt: 0 }));
  }

  state(p: number): PartitionState {
    return (this.slots[p] as Slot).snap.value as PartitionState;
  }

  /** The epoch at which this node took `p` over. */
  ownershipEpoch(p: number): number {
    return (this.slots[p] as Slot).epoch;
  }

  /** Whether actors of `p` may run turns (timers included) on this node now. */
  canRun(p: number): boolean {
    return this.state(p) === "serving";
  }

  /** How this node handles a call for `p` now. */
  admit(p: number): Admission {
    const st = this.state(p);
    if (st === "serving") return "run";
    if (st === "idle" || st === "released") return "elsewhere";
    return (this.slots[p] as Slot).waiting.length >= MAX_HELD ? "elsewhere" : "hold";
  }

  /** Waits (at most `ms`) until `p` serves here or is gone from here; the caller then asks `admit` again. */
  async hold(p: number, ms: number): Promise<void> {
    const started = Date.now();
    const deadline = started + ms;
    // Until the partition serves here or is gone from here (a state where `admit` says more than "hold").
    while (this.admit(p) === "hold" && Date.now() < deadline) await this.changed(p, deadline - Date.now());
    const waited = Date.now() - started;
    if (waited > this.stats.maxHoldMs) this.stats.maxHoldMs = waited;
  }

  /** Resolves at the next state change of `p`, or after `ms`. */
  private changed(p: number, ms: number): Promise<void> {
    const slot = this.slots[p] as Slot;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        slot.waiting = slot.waiting.filter((l) => l !== done);
        resolve();
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      slot.waiting.push(done);
    });
  }

  /** A call for `p` starts or ends running here (draining waits for running calls). */
  begin(p: number): void {
    (this.slots[p] as Slot).inflight++;
  }

  end(p: number): void {
    (this.slots[p] as Slot).inflight--;
  }

  /** The node's view changed: start, cancel or reverse moves. */
  onView(view: View, table: PartitionTable | null): void {
    const self = this.deps.selfId;
    const members = new Set(view.members.map((m) => m.id));
    const previous = this.previous;
    this.previous = table;
    if (!members.has(self)) {
      // Removed from the view while alive: whatever this node held is someone else's now.
      for (let p = 0; p < this.slots.length; p++) this.reset(p);
      return;
    }
    for (let p = 0; p < this.slots.length; p++) {
      const owner = table !== null && table.members.length > 0 ? table.ownerOf(p) : null;
      const st = this.state(p);
      const slot = this.slots[p] as Slot;
      if (owner === self) {
        if (st === "idle" || st === "released") {
          if (st === "released") this.send(p, { type: "RESET" });
          slot.epoch = view.epoch;
          const before = previous !== null && previous.members.length > 0 ? previous.ownerOf(p) : null;
          slot.source = before !== null && before !== self && members.has(before) ? before : null;
          this.send(p, slot.source !== null ? { type: "ACQUIRE_FROM_PEER" } : { type: "ACQUIRE_RECOVER" });
        } else if (st === "draining" || st === "transferring") {
          slot.epoch = view.epoch;
          // The records go back into the host before anything may run again.
          if (st === "transferring") this.deps.host.importSerialized(p, (slot.chunks ?? []).flat());
          this.send(p, { type: "RECLAIM" });
        } else if (st === "serving" && previous !== null && previous.members.length > 0) {
          // Same owner; if the backups changed, the new ones need everything.
          const before = new Set(previous.backupsOf(p));
          if (table !== null && table.backupsOf(p).some((b) => !before.has(b))) this.syncBackups(p);
        }
      } else if (st === "serving") {
        this.send(p, { type: "RELEASE" });
      } else if (st === "awaiting" || st === "catchingUp" || st === "recovering") {
        this.send(p, { type: "DISOWN" });
      }
    }
    this.deps.replicator.viewChanged();
  }

  /** Handles a control message of the move protocol (`pull`, `done`). */
  async handleControl(msg: ControlMessage): Promise<unknown> {
    const p = msg.p;
    if (!Number.isInteger(p) || (p as number) < 0 || (p as number) >= this.slots.length) throw new MalformedMessageError("partition is invalid");
    if (typeof msg.from !== "string" || typeof msg.e !== "number") throw new MalformedMessageError("from and e are required");
    if (msg.e > this.deps.view().epoch) await this.deps.reconcile();
    switch (msg.op) {
      case "pull":
        // Actors and backup copies go to members only (every real puller is one).
        if (!this.deps.view().members.some((m) => m.id === msg.from)) return { status: "refused" } satisfies PullReply;
        return this.onPull(p as number, msg.from, typeof msg.cursor === "number" ? msg.cursor : 0);
      case "done":
        return this.onDone(p as number, msg.from);
      default:
        throw new MalformedMessageError(`unknown move operation ${msg.op}`);
    }
  }

  /**
   * Resolves once this node holds no partition any more (a leaving node's partitions were all
   * pulled by their new owners); rejects after `timeoutMs`.
   */
  async handedOver(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A partition the table gives to no other node (every worker is leaving) cannot be handed
      // over: it is not waited for. Replicated actors survive in the log; others end here.
      const table = this.deps.table();
      let held = 0;
      let stranded = 0;
      for (let p = 0; p < this.slots.length; p++) {
        if (this.state(p) === "idle") continue;
        const owner = table !== null && table.members.length > 0 ? table.ownerOf(p) : null;
        if (owner === null || owner === this.deps.selfId) stranded++;
        else held++;
      }
      if (held === 0) {
        if (stranded > 0) this.deps.log.warn({ partitions: stranded }, "no other worker to hand these partitions to (every worker is leaving); actors without a log backup end here");
        return;
      }
      if (Date.now() > deadline) throw new Error(`${held} partition(s) still here after ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const slot of this.slots) notify(slot);
  }

  // ---- the machine ----

  private send(p: number, event: PartitionEvent): void {
    const slot = this.slots[p] as Slot;
    const before = slot.snap.value;
    const next = nextPartitionSnapshot(slot.snap, event);
    slot.snap = next;
    if (next.value === before && event.type !== "RECOVERY_FAILED") return;
    slot.run++;
    slot.since = Date.now();
    if (next.value !== before) this.counted(before as PartitionState, next.value as PartitionState);
    notify(slot);
    this.enter(p, next.value as PartitionState, before as PartitionState);
  }

  private enter(p: number, st: PartitionState, from: PartitionState): void {
    const slot = this.slots[p] as Slot;
    switch (st) {
      case "awaiting":
      case "recovering":
        this.stats.movesStarted += st === "awaiting" ? 1 : 0;
        if (st === "awaiting") slot.acquiredAt = Date.now();
        this.enqueueMove(p);
        break;
      case "serving":
        slot.chunks = null;
        if (from === "catchingUp") {
          this.stats.movesFinished++;
          this.moveDurations.observe((Date.now() - slot.acquiredAt) / 1000);
        }
        this.syncBackups(p);
        break;
      case "draining":
        void this.drain(p, slot.run);
        break;
      case "transferring":
        this.prepareTransfer(p, slot.run);
        break;
      case "released":
        slot.chunks = null;
        this.deps.host.dropPartition(p, () => new NotOwnerError(p, this.deps.view().epoch, this.ownerNow(p)));
        this.deps.replicator.dropPartition(p);
        this.send(p, { type: "RESET" });
        break;
      case "idle":
        if (from === "awaiting" || from === "catchingUp" || from === "recovering") {
          this.stats.movesAborted++;
          this.deps.host.dropPartition(p, () => new NotOwnerError(p, this.deps.view().epoch, this.ownerNow(p)));
        }
        break;
    }
  }

  private reset(p: number): void {
    const slot = this.slots[p] as Slot;
    const st = this.state(p);
    if (st === "idle") return;
    slot.snap = initialPartitionSnapshot;
    this.counted(st, "idle");
    slot.run++;
    slot.chunks = null;
    this.deps.host.dropPartition(p, () => new NotOwnerError(p, this.deps.view().epoch, null));
    this.deps.replicator.dropPartition(p);
    notify(slot);
  }

  private ownerNow(p: number): string | null {
    const t = this.deps.table();
    return t !== null && t.members.length > 0 ? t.ownerOf(p) : null;
  }

  /** Keeps `stats.inMotion` (partitions per non-steady state) up to date, in O(1) per change. */
  private counted(from: PartitionState, to: PartitionState): void {
    const counts = this.stats.inMotion;
    if (from !== "idle" && from !== "serving") {
      const n = (counts[from] ?? 0) - 1;
      if (n > 0) counts[from] = n;
      else delete counts[from];
    }
    if (to !== "idle" && to !== "serving") counts[to] = (counts[to] ?? 0) + 1;
  }

  // ---- receiving: pull from the previous owner, or recover ----

  /**
   * Pulls wait for a slot of the move rate limit; recoveries start at once. A recovery moves no bulk
   * data between nodes (a probe to each member, the backup copies it finds, one pass over the
   * log shared by every recovery waiting for one), so a failover's hundreds of partitions
   * recover together instead of in waves of `moveConcurrency` — measured: with 3 workers and
   * 3,000 sessions, the survivors' recoveries started over 0.45 s (backups) and 0.95 s (log)
   * after the crash was detected, in waves. A recovery that finds a live holder pulls from it
   * like a move, under the same limit.
   */
  private enqueueMove(p: number): void {
    const run = (this.slots[p] as Slot).run;
    const work = this.state(p) === "recovering" ? this.recover(p, run) : this.pullWhenFree(p, run);
    work.catch((err: unknown) => this.deps.log.warn({ err, partition: p }, "partition move step failed"));
  }

  private async pullWhenFree(p: number, run: number): Promise<void> {
    await this.pullSlot();
    try {
      // Skipped if the partition changed state while it waited (disowned, or its source died and a recovery started).
      if (this.current(p, run)) await this.pullFromSource(p, run);
    } finally {
      this.releaseSlot();
    }
  }

  /** Waits for a slot of the move rate limit; pair with `releaseSlot`. */
  private pullSlot(): Promise<void> {
    if (this.active < (this.deps.moveConcurrency ?? 64)) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next !== undefined) next(); // the slot passes to the oldest waiting pull
    else this.active--;
  }

  private current(p: number, run: number): boolean {
    return !this.stopped && (this.slots[p] as Slot).run === run;
  }

  /** Pulls every chunk of `p` from `from`; null if it holds nothing. Signals PULL_STARTED on the first chunk. */
  private async pullAll(p: number, from: string, run: number, onFirst?: () => void): Promise<SerializedActor[] | null> {
    const slot = this.slots[p] as Slot;
    const actors: SerializedActor[] = [];
    let cursor = 0;
    let waited = 0;
    for (;;) {
      if (!this.current(p, run)) return null;
      let reply: PullReply;
      try {
        reply = (await this.deps.sendControl(from, { op: "pull", p, e: slot.epoch, from: this.deps.selfId, cursor }, PULL_TIMEOUT_MS)) as PullReply;
      } catch (err) {
        if (!this.deps.view().members.some((m) => m.id === from)) throw new SourceLost(from);
        this.deps.log.debug({ err, partition: p, from }, "pull failed; retrying");
        await sleep(Math.min(50 * 2 ** Math.min(waited++, 4), 500));
        continue;
      }
      if (reply.status === "none") return null;
      if (reply.status === "wait" || reply.status === "refused") {
        if (reply.status === "refused") await this.deps.reconcile();
        await sleep(reply.status === "wait" ? 5 : 50);
        continue;
      }
      if (cursor === 0) onFirst?.();
      if (!Array.isArray(reply.actors)) throw new MalformedMessageError(`the pull reply for partition ${p} has no actors`);
      for (const a of reply.actors) actors.push(checkSerializedActor(a, CHUNK_CHARS * 4));
      if (reply.next === null || reply.next === undefined) return joinPieces(actors);
      cursor = reply.next;
    }
  }

  private async pullFromSource(p: number, run: number): Promise<void> {
    const slot = this.slots[p] as Slot;
    const source = slot.source as string;
    let actors: SerializedActor[] | null;
    try {
      actors = await this.pullAll(p, source, run, () => this.send(p, { type: "PULL_STARTED" }));
    } catch (err) {
      if (!(err instanceof SourceLost)) throw err;
      actors = null;
    }
    if (!this.current(p, run) && this.state(p) !== "catchingUp") return;
    if (actors === null) {
      // The source died or holds nothing: recover from whatever the cluster has.
      if (this.state(p) === "awaiting" || this.state(p) === "catchingUp") this.send(p, { type: "SOURCE_LOST" });
      return;
    }
    const runNow = (this.slots[p] as Slot).run;
    // False when the source took the partition back (its view changed; our view handling follows).
    if (!(await this.install(p, () => this.deps.host.importSerialized(p, actors), this.confirm(p, source), runNow))) return;
    this.send(p, { type: "RECEIVED" });
  }

  /** Tells a holder its records are now ours; false if it refused (it reclaimed the partition). */
  private async confirm(p: number, holder: string): Promise<boolean> {
    const slot = this.slots[p] as Slot;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const r = (await this.deps.sendControl(holder, { op: "done", p, e: slot.epoch, from: this.deps.selfId }, PULL_TIMEOUT_MS)) as { ok: boolean };
        return r.ok;
      } catch {
        if (!this.deps.view().members.some((m) => m.id === holder)) return true; // it died after handing over: its data is ours
        await sleep(50);
      }
    }
    return false;
  }

  /**
   * Failover: ask every live member. One still holding the partition (draining or transferring)
   * hands it over; otherwise merge every backup copy and the event log, highest sequence first.
   */
  private async recover(p: number, run: number): Promise<void> {
    const started = Date.now();
    const others = this.deps.view().members.map((m) => m.id).filter((id) => id !== this.deps.selfId);
    const local = this.deps.backups.entries(p);
    const found = await Promise.all(
      others.map(async (m) => {
        try {
          const r = (await this.deps.sendControl(m, { op: "pull", p, e: (this.slots[p] as Slot).epoch, from: this.deps.selfId, cursor: 0, probe: true }, PULL_TIMEOUT_MS)) as PullReply & { backups?: ActorEntry[] };
          return { member: m, reply: r };
        } catch {
          return { member: m, reply: null };
        }
      }),
    );
    if (!this.current(p, run)) return;
    // A live holder has the newest state: take it from there, like a planned move.
    const holder = found.find((f) => f.reply !== null && f.reply.status !== "none");
    if (holder !== undefined) {
      this.deps.log.debug({ partition: p, holder: holder.member, status: holder.reply?.status }, "recovering a partition from the member still holding it");
      let actors: SerializedActor[] | null = null;
      await this.pullSlot();
      try {
        actors = this.current(p, run) ? await this.pullAll(p, holder.member, run) : null;
      } catch {
        actors = null;
      } finally {
        this.releaseSlot();
      }
      if (!this.current(p, run)) return;
      if (actors !== null) {
        const pulled = actors;
        if (await this.install(p, () => this.deps.host.importSerialized(p, pulled), this.confirm(p, holder.member), run)) return this.finishRecovery(p, started);
        if (!this.current(p, run)) return;
      }
      this.send(p, { type: "RECOVERY_FAILED" });
      return;
    }
    const copies: ActorEntry[] = [...local];
    for (const f of found) for (const a of f.reply?.backups ?? []) copies.push({ type: String(a.type), id: String(a.id), record: checkRecord(a.record), ...(a.stale === true ? { stale: true } : {}) });
    const eventLog = this.deps.eventLog();
    if (eventLog !== null) {
      try {
        const entries = await eventLog.readPartition(p);
        copies.push(...(await this.slicer.run(() => rebuildFromLog(entries, this.deps.log))));
      } catch (err) {
        this.deps.log.warn({ err, partition: p }, "could not read the event log; recovering from backups only");
      }
    }
    if (!this.current(p, run)) return;
    const best = newest(copies);
    this.deps.log.debug({ partition: p, local: local.length, found: found.map((f) => `${f.member}:${f.reply === null ? "no answer" : (f.reply.backups?.length ?? 0)}`), actors: best.length, seqs: best.slice(0, 3).map((a) => `${a.id}@${a.record.seq}`) }, "recovering a partition from backup copies");
    if (await this.install(p, () => this.deps.host.importActors(p, best), Promise.resolve(true), run)) this.finishRecovery(p, started);
  }

  private finishRecovery(p: number, started: number): void {
    const ms = Date.now() - started;
    this.stats.recoveries++;
    this.stats.lastRecoveryMs = ms;
    if (ms > this.stats.maxRecoveryMs) this.stats.maxRecoveryMs = ms;
    this.recoveryDurations.observe(ms / 1000);
    this.deps.backups.drop(p);
    this.send(p, { type: "RECOVERED" });
  }

  /**
   * Fences the log while the holder confirms the hand-over (`confirmed`, false if it took the
   * partition back), then replaces whatever this node held of `p` with what `load` installs.
   * Returns whether it installed (the partition may serve). The two round trips run at once:
   * a marker written for a hand-over that is then refused only fences writes older than the
   * refusing node's own, newer, ownership epoch.
   */
  private async install(p: number, load: () => string[], confirmed: Promise<boolean>, run: number): Promise<boolean> {
    const [ok] = await Promise.all([confirmed, this.fence(p)]);
    if (!ok || !this.current(p, run)) return false;
    return this.slicer.run(() => {
      if (!this.current(p, run)) return false;
      this.deps.host.dropPartition(p, () => new NotOwnerError(p, this.deps.view().epoch, null));
      const skipped = load();
      if (skipped.length > 0) this.deps.log.warn({ partition: p, skipped: skipped.slice(0, 5), count: skipped.length }, "records of actor types this node does not host were dropped");
      this.deps.backups.drop(p);
      return true;
    });
  }

  /** Writes the takeover marker `(p, epoch)` to the event log, if there is one. */
  private async fence(p: number): Promise<void> {
    const eventLog = this.deps.eventLog();
    if (eventLog === null) return;
    try {
      await eventLog.markTakeover({ partition: p, epoch: (this.slots[p] as Slot).epoch, node: this.deps.selfId });
    } catch (err) {
      this.deps.log.warn({ err, partition: p }, "could not write the takeover marker; log entries of a deposed owner may be replayed");
    }
  }

  /** Sends the partition's actors in full to its backups, in a slice (see `slicer`), if this node still serves it then. */
  private syncBackups(p: number): void {
    void this.slicer.run(() => {
      if (this.state(p) !== "serving") return;
      try {
        this.deps.replicator.syncPartition(p, this.deps.host.exportPartition(p, { replicatedOnly: true }));
      } catch {
        // A turn is running: its own replication will carry the state; idle actors sync on the next view change.
      }
    });
  }

  // ---- handing over ----

  private async drain(p: number, run: number): Promise<void> {
    const slot = this.slots[p] as Slot;
    const deadline = Date.now() + (this.deps.drainTimeoutMs ?? 10_000);
    while (this.current(p, run)) {
      const busy = slot.inflight > 0 || this.deps.host.partitionBusy(p) || this.deps.replicator.pending(p);
      if (!busy) break;
      if (Date.now() > deadline) {
        this.deps.log.warn({ partition: p }, "drain timed out; handing over anyway (turns still running will fail)");
        break;
      }
      await sleep(2);
    }
    if (this.current(p, run)) this.send(p, { type: "DRAINED" });
  }

  private prepareTransfer(p: number, run: number): void {
    const slot = this.slots[p] as Slot;
    // From here the records live in the chunks: the actors are dropped at once, so a turn
    // still running after a drain timeout fails (and is retried on the new owner) instead of
    // committing outside what is handed over.
    const actors = this.deps.host.exportSerialized(p, { force: true });
    this.deps.host.dropPartition(p, () => new NotOwnerError(p, this.deps.view().epoch, this.ownerNow(p)));
    const chunks = toChunks(actors);
    slot.chunks = chunks;
    // Nobody pulling for a long while is worth a warning, never a reason to drop the records:
    // they may be the only copy (none()). The view changing again ends the wait (RECLAIM,
    // or a pull by the next owner).
    const timeout = this.deps.transferTimeoutMs ?? 60_000;
    const warn = (): void => {
      if (!this.current(p, run) || this.state(p) !== "transferring") return;
      this.deps.log.warn({ partition: p, owner: this.ownerNow(p), waitedMs: Date.now() - (this.slots[p] as Slot).since }, "the new owner has not pulled this partition yet; keeping its records");
      setTimeout(warn, timeout).unref();
    };
    setTimeout(warn, timeout).unref();
  }

  private async onPull(p: number, from: string, cursor: number): Promise<PullReply & { backups?: ActorEntry[] }> {
    // A pull that comes before this node let go (its view is a moment behind, or running turns
    // are finishing) is held until the partition changes state, not answered "wait": the puller
    // would sleep and ask again, and under load each extra round trip costs tens of ms of pause.
    const deadline = Date.now() + PULL_HOLD_MS;
    for (;;) {
      const st = this.state(p);
      const early = st === "draining" || (st === "serving" && this.ownerNow(p) !== this.deps.selfId);
      if (!early || Date.now() >= deadline) break;
      await this.changed(p, deadline - Date.now());
    }
    const st = this.state(p);
    const owner = this.ownerNow(p);
    if (st === "serving") {
      // The puller's view is newer than ours and we still serve: our view catches up first.
      return { status: owner === this.deps.selfId ? "refused" : "wait" };
    }
    if (st === "draining") return { status: "wait" };
    if (st === "transferring") {
      if (owner !== from) return { status: "refused" };
      const chunks = (this.slots[p] as Slot).chunks ?? [[]];
      const i = Math.max(0, Math.min(cursor, chunks.length - 1));
      return { status: "chunk", actors: chunks[i] ?? [], next: i + 1 < chunks.length ? i + 1 : null, total: chunks.length };
    }
    // Nothing live here: offer the backup copies (recovery merges them).
    return this.slicer.run(() => ({ status: "none", backups: this.deps.backups.entries(p) }));
  }

  private onDone(p: number, from: string): { ok: boolean } {
    const st = this.state(p);
    if (st !== "transferring" || this.ownerNow(p) !== from) return { ok: st === "released" || st === "idle" };
    this.send(p, { type: "TRANSFERRED" });
    return { ok: true };
  }
}

class SourceLost extends Error {
  constructor(readonly source: string) {
    super(`source ${source} left the view`);
  }
}

/**
 * For each actor, the record with the highest replication sequence among its current copies;
 * a stale copy (held by a node since it was removed from the view while alive) only where no
 * current copy is left.
 */
function newest(entries: ActorEntry[]): ActorEntry[] {
  const best = new Map<string, ActorEntry>();
  for (const e of entries) {
    const k = actorKey(e.type, e.id);
    const cur = best.get(k);
    const better = cur === undefined || (cur.stale === true && e.stale !== true) || (cur.stale === e.stale && (e.record.seq ?? 0) > (cur.record.seq ?? 0));
    if (better) best.set(k, e);
  }
  return [...best.values()];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export type { ActorRecord };

/** Calls, once, everything waiting for the slot's next state change. */
function notify(slot: Slot): void {
  if (slot.waiting.length === 0) return;
  const waiting = slot.waiting;
  slot.waiting = [];
  for (const w of waiting) w();
}
