import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { DependencyContainer } from "tsyringe";
import { ActivationError, BerthError, NodeStoppedError, UnknownActorTypeError, UnknownHandlerError } from "../errors.js";
import { parse, stringify } from "../state/serializer.js";
import { copyValue } from "../state/walk.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { Activation, Status, type CommittedTurn } from "./Activation.js";
import type { ActorType, HandlerEntry } from "./defineActor.js";
import { resolveDeps } from "./deps.js";
import { checkRecord, type ActorEntry, type ActorRecord, type SerializedActor, type TimerRecord } from "./record.js";
import { PassiveStore, type PassiveEntry } from "./PassiveStore.js";
import { TimerQueue, type TimerEntry } from "./TimerQueue.js";
import type { ActorRef, AnyActorDefinition } from "./types.js";
import { ActorIdentity } from "./identity.js";
import { detached } from "../transport/wire.js";

/** Creates references on behalf of an actor (so self-calls can be caught). */
export interface CallerRefs {
  ref<A extends AnyActorDefinition>(def: A, id: string, caller?: Activation): ActorRef<A>;
}

/** Hooks the host calls as actors commit, activate and go away (replication plugs in here). */
export interface HostHooks {
  /** After a writing turn commits. A returned promise delays the caller's reply (sync backup). */
  committed?(turn: CommittedTurn): Promise<void> | undefined;
  /** Where a record comes from when the actor is not in this node's memory (recovery from backups or the log). */
  loadRecord?(type: ActorType, id: string): Promise<ActorRecord | undefined> | undefined;
  /**
   * After an actor expired (no turn deleted it: its record must be deleted everywhere). `seq`
   * is one past its last replication sequence, for the tombstone.
   */
  destroyed?(type: ActorType, id: string, partition: number, seq: number): void;
  /**
   * A turn's live updates, confirmed by its policy: `packed` (each `packPayload` text) are the
   * updates numbered `first`, `first + 1`, … of the activation `source`.
   */
  published?(type: ActorType, id: string, source: string, first: number, packed: readonly string[]): void;
  /** Whether actors of `partition` may run timer turns now (false while it moves or recovers). */
  canRun?(partition: number): boolean;
  /**
   * Makes the actor's committed state as durable as its policy promises, again (its last
   * replication failed or is unknown), before a retried call is answered from its outcome.
   */
  reconfirm?(act: Activation): Promise<void>;
}

/** Settings of a host; `createNode` fills in the defaults. */
export interface HostOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly container: DependencyContainer;
  readonly refs: CallerRefs;
  readonly partitionOf: (id: string) => number;
  readonly maxActiveActors: number;
  readonly callTimeoutMs: number;
  readonly checkQueries: boolean;
  /** How long outcomes of calls with ids are kept for retries. */
  readonly dedupWindowMs: number;
  readonly hooks?: HostHooks;
}

interface TypeSlot {
  readonly type: ActorType;
  readonly active: Map<string, Activation>;
  /** Passivated actors: serialized record, in passivation order, indexed by partition. */
  readonly passive: PassiveStore;
  /**
   * The last replication sequence of recently destroyed actors, in destruction order. An actor
   * created again with the same id continues from there: restarting at 0 would let replication
   * take its turns for its predecessor's (an old acknowledgement releasing a sync reply, the
   * event log dropping its entries as duplicates of the old message ids).
   */
  readonly graves: Map<string, Grave>;
}

interface Grave {
  readonly seq: number;
  readonly at: number;
}

/** How long a destroyed actor's sequence is remembered: beyond the event log's duplicate window (2 min). */
const GRAVE_MS = 10 * 60_000;

/** Counts exported by `node.stats()`. */
export interface HostStats {
  active: number;
  passive: number;
  activations: number;
  passivations: number;
  destroyed: number;
  timersFired: number;
  timerErrors: number;
  /** Retried calls answered from their recorded outcome instead of running again. */
  duplicateCalls: number;
}

/**
 * The actors of one node: activation on first call, passivation when idle or when the
 * active-actor cap is reached (least recently used first), expiry, durable timers, and the
 * deadlines of waiting calls.
 */
export class ActorHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly refs: CallerRefs;
  readonly callTimeoutMs: number;
  readonly checkQueries: boolean;
  readonly dedupWindowMs: number;
  private readonly container: DependencyContainer;
  private readonly partitionOf: (id: string) => number;
  private readonly maxActive: number;
  private readonly hooks: HostHooks;
  private readonly slots = new Map<string, TypeSlot>();
  private readonly timers: TimerQueue;
  private readonly busy = new Set<Activation>();
  /** Active actors by partition, so moves touch one partition's actors, not all of them. */
  private readonly activeIn = new Map<number, Set<Activation>>();
  /** Resolves true once an activation serves, false if it failed (its callers got the error). */
  private readonly ready = new WeakMap<Activation, Promise<boolean>>();
  private lruHead: Activation | null = null;
  private readonly sourcePrefix = randomBytes(6).toString("base64url");
  private sources = 0;
  private lruTail: Activation | null = null;
  private activeCount = 0;
  private sweepHandle: TimerHandle | null = null;
  private readonly sweepEveryMs: number;
  /** The shortest idle timeout or expiry of any type: actors used more recently need no look. */
  private readonly shortestIdleMs: number;
  private stopped = false;
  /**
   * The time of the last sweep. Turns stamp `lastUsed` with it instead of reading the clock
   * (which costs more than a whole turn on some machines); idle checks add one sweep interval,
   * so an actor is never passivated before it has really been idle for its timeout.
   */
  coarseNow: number;
  readonly counters: Omit<HostStats, "active" | "passive"> = {
    activations: 0,
    passivations: 0,
    destroyed: 0,
    timersFired: 0,
    timerErrors: 0,
    duplicateCalls: 0,
  };

  constructor(types: readonly ActorType[], options: HostOptions) {
    this.clock = options.clock;
    this.log = options.log;
    this.refs = options.refs;
    this.container = options.container;
    this.partitionOf = options.partitionOf;
    this.maxActive = options.maxActiveActors;
    this.callTimeoutMs = options.callTimeoutMs;
    this.checkQueries = options.checkQueries;
    this.dedupWindowMs = options.dedupWindowMs;
    this.hooks = options.hooks ?? {};
    for (const type of types) this.slots.set(type.name, { type, active: new Map(), passive: new PassiveStore(), graves: new Map() });
    this.timers = new TimerQueue(this.clock, (e) => this.fireTimer(e));
    this.coarseNow = this.clock.now();
    this.shortestIdleMs = Math.min(...types.map((t) => Math.min(t.idleTimeoutMs, t.expireAfterMs ?? Infinity)));
    this.sweepEveryMs = Math.min(Math.max(Math.floor(Math.min(this.shortestIdleMs, this.callTimeoutMs) / 4), 100), 30_000);
    this.armSweep();
  }

  /** The types this host serves, by name. */
  typeNames(): string[] {
    return [...this.slots.keys()];
  }

  slotOf(typeName: string): ActorType | undefined {
    return this.slots.get(typeName)?.type;
  }

  /**
   * Runs a call on the actor `id` of type `typeName`, activating it if needed. The arguments
   * must already be a private copy (the caller validated them). Rejects with a clear error for
   * an unknown type or handler.
   * @param deadline ms since the epoch, or 0 for the node's call timeout from when the call waits
   * @param callId a remote call's id, for exactly-once execution of retries
   */
  invoke(typeName: string, id: string, method: string, args: unknown[], deadline: number, callId?: string): Promise<unknown> {
    if (this.stopped) return Promise.reject(new NodeStoppedError("this node"));
    const slot = this.slots.get(typeName);
    if (slot === undefined) return Promise.reject(new UnknownActorTypeError(typeName, this.typeNames()));
    const entry = slot.type.handlers.get(method);
    if (entry === undefined) return Promise.reject(new UnknownHandlerError(typeName, method, [...slot.type.handlers.keys()]));
    let act = slot.active.get(id);
    if (act === undefined) {
      act = this.activate(slot, id);
      // Activation can fail before it waits for anything (an unreadable stored record).
      if (act.failure !== null) return Promise.reject(act.failure);
    } else this.touch(act);
    return act.call(entry, args, deadline, callId);
  }

  stats(): HostStats {
    let passive = 0;
    for (const s of this.slots.values()) passive += s.passive.size;
    return { active: this.activeCount, passive, ...this.counters };
  }

  /** Whether the actor is active or passivated here. */
  has(typeName: string, id: string): boolean {
    const slot = this.slots.get(typeName);
    return slot !== undefined && (slot.active.has(id) || slot.passive.has(id));
  }

  /**
   * Forgets every actor of `partition` on this node (it is owned elsewhere now): active ones
   * are dropped without `onDeactivate` and their waiting calls rejected with `error`, so callers
   * re-route. Returns how many actors were dropped.
   */
  dropPartition(partition: number, error: () => Error): number {
    let dropped = 0;
    for (const act of [...(this.activeIn.get(partition) ?? [])]) {
      this.unlink(act, this.slots.get(act.type.name) as TypeSlot);
      act.status = Status.Gone;
      for (const c of act.takeQueue()) c.reject(error());
      this.busy.delete(act);
      this.timers.removeActor(act.type.name, act.id);
      act.container?.dispose();
      dropped++;
    }
    for (const slot of this.slots.values()) {
      for (const id of slot.passive.idsIn(partition)) {
        slot.passive.delete(id);
        this.timers.removeActor(slot.type.name, id);
        dropped++;
      }
    }
    return dropped;
  }

  /**
   * The records of every actor of `partition` (active and passivated), for a move, or of its
   * replicated ones (`replicatedOnly`) for a backup sync. Throws if one of them is busy (drain the partition first), unless `force`: then a busy
   * actor's last committed record is taken, and the caller drops the partition at once so the
   * running turn can never commit here.
   */
  exportPartition(partition: number, options: { force?: boolean; replicatedOnly?: boolean } = {}): ActorEntry[] {
    const wanted = (type: ActorType): boolean => options.replicatedOnly !== true || type.backup.replicates;
    const out: ActorEntry[] = this.activeToExport(partition, options.force === true, wanted).map((act) => ({ type: act.type.name, id: act.id, record: act.toRecord() }));
    for (const slot of this.slots.values()) {
      if (!wanted(slot.type)) continue;
      for (const id of slot.passive.idsIn(partition)) out.push({ type: slot.type.name, id, record: parse((slot.passive.get(id) as PassiveEntry).data) as ActorRecord });
    }
    return out;
  }

  /**
   * Every actor of `partition` in its serialized form, for a move: passivated actors as they
   * are stored (no work), active ones serialized once. Busy actors as in `exportPartition`.
   */
  exportSerialized(partition: number, options: { force?: boolean } = {}): SerializedActor[] {
    const out: SerializedActor[] = this.activeToExport(partition, options.force === true).map((act) => {
      const record = act.toRecord();
      return { type: act.type.name, id: act.id, data: stringify(record), lastUsed: record.lastUsed, due: dueOf(record.timers) };
    });
    for (const slot of this.slots.values()) {
      for (const id of slot.passive.idsIn(partition)) {
        const entry = slot.passive.get(id) as PassiveEntry;
        out.push({ type: slot.type.name, id, data: entry.data, lastUsed: entry.lastUsed, due: entry.due });
      }
    }
    return out;
  }

  /**
   * Installs actors moved here in their serialized form, as passivated actors with their
   * timers armed — without parsing them (they are validated when they activate). Actors of
   * unknown types are skipped and returned.
   */
  importSerialized(partition: number, actors: readonly SerializedActor[]): string[] {
    const skipped: string[] = [];
    const now = this.clock.now();
    for (const a of actors) {
      const slot = this.slots.get(a.type);
      if (slot === undefined) {
        skipped.push(`${a.type}/${a.id}`);
        continue;
      }
      if (slot.active.has(a.id)) continue; // already here (a call activated it): the live one wins
      slot.passive.set(a.id, { partition, data: a.data, lastUsed: a.lastUsed, passivatedAt: now, due: a.due });
      for (const [timerId, due] of a.due) this.timers.add({ due, actorType: a.type, actorId: a.id, timerId });
    }
    return skipped;
  }

  /** The active actors of `partition` to export (of the `wanted` types); throws if one is busy, unless `force`. */
  private activeToExport(partition: number, force: boolean, wanted: (type: ActorType) => boolean = () => true): Activation[] {
    const out: Activation[] = [];
    for (const act of this.activeIn.get(partition) ?? []) {
      if (!wanted(act.type)) continue;
      if ((!act.idle || act.status !== Status.Active) && !force) {
        throw new BerthError("partition-busy", `partition ${partition} still has a running turn (${act.type.name}/${act.id}); drain it first`);
      }
      out.push(act);
    }
    return out;
  }

  /** The committed record of an actor hosted here (active or passivated), if any. */
  recordOf(typeName: string, id: string): ActorRecord | undefined {
    const slot = this.slots.get(typeName);
    if (slot === undefined) return undefined;
    const act = slot.active.get(id);
    // An activating actor that loaded its record has one: its onActivate turn may be waiting
    // for a backup that needs it in full (sync replication of the activation's first change).
    if (act !== undefined && act.status !== Status.Gone && act.loaded) return act.toRecord();
    const passive = slot.passive.get(id);
    return passive === undefined ? undefined : (parse(passive.data) as ActorRecord);
  }

  /** Whether any actor of `partition` is running a turn, waiting to, or (de)activating. */
  partitionBusy(partition: number): boolean {
    for (const act of this.activeIn.get(partition) ?? []) if (!act.idle || act.status !== Status.Active) return true;
    return false;
  }

  /**
   * Installs actors of a partition this node now owns (moved here or recovered), as passivated
   * actors with their timers armed. Actors of unknown types are skipped and returned.
   */
  importActors(partition: number, actors: readonly ActorEntry[]): string[] {
    return this.importSerialized(
      partition,
      actors.map((a) => ({ type: a.type, id: a.id, data: stringify(a.record), lastUsed: a.record.lastUsed, due: dueOf(a.record.timers) })),
    );
  }

  /** Active actors per partition. */
  activeByPartition(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [p, acts] of this.activeIn) out.set(p, acts.size);
    return out;
  }

  /** Passivates every idle actor now (tests, shutdown). Returns how many were passivated. */
  async passivateAll(): Promise<number> {
    const all = [...this.slots.values()].flatMap((s) => [...s.active.values()]);
    const done = await Promise.all(all.map((a) => this.passivate(a)));
    return done.filter(Boolean).length;
  }

  /** Stops timers and sweeps and fails waiting calls. Active state stays readable for shutdown. */
  stop(nodeId: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.stop();
    if (this.sweepHandle) this.clock.clearTimer(this.sweepHandle);
    for (const act of this.busy) for (const c of act.takeQueue()) c.reject(new NodeStoppedError(nodeId));
    this.busy.clear();
  }

  // ---- activation ----

  private activate(slot: TypeSlot, requestedId: string): Activation {
    const id = detached(requestedId); // kept while active: not a view into the first request's text
    const act = new Activation(this, slot.type, id, this.partitionOf(id));
    slot.active.set(id, act);
    let inPartition = this.activeIn.get(act.partition);
    if (inPartition === undefined) this.activeIn.set(act.partition, (inPartition = new Set()));
    inPartition.add(act);
    this.activeCount++;
    this.linkHead(act);
    if (this.activeCount > this.maxActive) this.evict();
    this.ready.set(act, this.startActivation(slot, act));
    return act;
  }

  private async startActivation(slot: TypeSlot, act: Activation): Promise<boolean> {
    const { type, id } = act;
    let taken: PassiveEntry | undefined;
    try {
      const passive = slot.passive.get(id);
      let record: ActorRecord | undefined;
      if (passive !== undefined) {
        // Checked here, not when stored: records moved from another node are stored unparsed.
        // One that does not parse stays stored: its calls keep failing, it is never silently
        // replaced by a fresh actor.
        record = checkRecord(parse(passive.data));
        slot.passive.delete(id);
        taken = passive; // put back if the activation fails
      } else {
        record = await this.hooks.loadRecord?.(type, id);
        if (record !== undefined) this.registerTimers(type.name, id, record.timers);
      }
      if (record === undefined) {
        const grave = slot.graves.get(id);
        slot.graves.delete(id);
        record = { state: copyValue(type.initialState(id), "initial state"), timers: [], timerSeq: 0, lastUsed: this.clock.now(), ...(grave ? { seq: grave.seq } : {}) };
      }
      act.load(record);
      if (type.deps !== undefined) {
        act.container = this.container.createChildContainer();
        act.container.register(ActorIdentity, { useValue: { type: type.name, id } });
        act.deps = resolveDeps(type.name, type.deps, act.container);
      }
      if (type.onActivate) await act.runLifecycle(hookEntry("onActivate", type.onActivate));
      this.counters.activations++;
      act.status = Status.Active;
      act.drain();
      return true;
    } catch (cause) {
      const error =
        cause instanceof BerthError ? cause : new ActivationError(type.name, id, cause instanceof Error ? cause.message : String(cause), { cause });
      this.log.error({ err: cause, actor: type.name, id }, "activation failed");
      this.unlink(act, slot);
      // The record it was loading stays (its calls keep failing): never replaced by a fresh actor.
      if (taken !== undefined && slot.passive.get(id) === undefined) slot.passive.set(id, taken);
      act.status = Status.Gone;
      act.failure = error;
      for (const c of act.takeQueue()) c.reject(error);
      this.busy.delete(act);
      return false;
    }
  }

  /** Resolves true when `act` serves, false if its activation failed. */
  whenReady(act: Activation): Promise<boolean> {
    return this.ready.get(act) ?? Promise.resolve(act.status === Status.Active);
  }

  // ---- passivation, expiry, destruction ----

  /** Passivates an idle actor: runs `onDeactivate`, keeps the record, frees the activation. */
  async passivate(act: Activation): Promise<boolean> {
    if (act.status !== Status.Active || !act.idle) return false;
    const slot = this.slots.get(act.type.name) as TypeSlot;
    act.status = Status.Deactivating;
    if (act.type.onDeactivate) {
      await act.runLifecycle(hookEntry("onDeactivate", act.type.onDeactivate)).catch((err: unknown) => {
        this.log.warn({ err, actor: act.type.name, id: act.id }, "onDeactivate failed; passivating with the last committed state");
      });
    }
    this.unlink(act, slot);
    act.status = Status.Gone;
    const record = act.toRecord();
    slot.passive.set(act.id, {
      partition: act.partition,
      data: stringify(record),
      lastUsed: record.lastUsed,
      passivatedAt: this.clock.now(),
      due: dueOf(record.timers),
    });
    act.container?.dispose();
    this.counters.passivations++;
    this.handOver(slot, act);
    return true;
  }

  /**
   * Deletes an actor's record and timers: by its own turn (ctx.destroy: the turn's replication
   * carries the deletion) or by expiry (the `destroyed` hook does).
   */
  private destroy(act: Activation, byTurn: boolean): void {
    const slot = this.slots.get(act.type.name) as TypeSlot;
    this.unlink(act, slot);
    act.status = Status.Gone;
    slot.passive.delete(act.id);
    const seq = byTurn || !act.type.backup.replicates ? act.seq : act.seq + 1;
    this.bury(slot, act.id, seq);
    this.timers.removeActor(act.type.name, act.id);
    act.container?.dispose();
    this.counters.destroyed++;
    if (!byTurn) this.hooks.destroyed?.(act.type, act.id, act.partition, seq);
    this.handOver(slot, act);
  }

  /** Remembers a destroyed actor's sequence (see `TypeSlot.graves`). */
  private bury(slot: TypeSlot, id: string, seq: number): void {
    if (seq === 0) return;
    slot.graves.delete(id); // re-inserted last: the map stays in destruction order
    slot.graves.set(id, { seq, at: this.clock.now() });
  }

  /** Calls that arrived while `act` went away start a fresh activation. */
  private handOver(slot: TypeSlot, act: Activation): void {
    const waiting = act.takeQueue();
    this.busy.delete(act);
    if (waiting.length === 0) return;
    const next = this.activate(slot, act.id);
    for (const c of waiting) next.enqueue(c);
  }

  private unlink(act: Activation, slot: TypeSlot): void {
    if (slot.active.get(act.id) !== act) return;
    slot.active.delete(act.id);
    const inPartition = this.activeIn.get(act.partition);
    if (inPartition !== undefined && inPartition.delete(act) && inPartition.size === 0) this.activeIn.delete(act.partition);
    this.activeCount--;
    const { lruPrev, lruNext } = act;
    if (lruPrev) lruPrev.lruNext = lruNext;
    else this.lruHead = lruNext;
    if (lruNext) lruNext.lruPrev = lruPrev;
    else this.lruTail = lruPrev;
    act.lruPrev = act.lruNext = null;
  }

  private linkHead(act: Activation): void {
    act.lruPrev = null;
    act.lruNext = this.lruHead;
    if (this.lruHead) this.lruHead.lruPrev = act;
    this.lruHead = act;
    this.lruTail ??= act;
  }

  /** Marks `act` most recently used. */
  private touch(act: Activation): void {
    if (this.lruHead === act || act.status === Status.Gone) return;
    const { lruPrev, lruNext } = act;
    if (lruPrev) lruPrev.lruNext = lruNext;
    if (lruNext) lruNext.lruPrev = lruPrev;
    else this.lruTail = lruPrev;
    this.linkHead(act);
  }

  /** Passivates least-recently-used idle actors until the count is back under the cap. */
  private evict(): void {
    let over = this.activeCount - this.maxActive;
    for (let a = this.lruTail; a !== null && over > 0; a = a.lruPrev) {
      if (a.status === Status.Active && a.idle) {
        over--;
        void this.passivate(a);
      }
    }
  }

  private armSweep(): void {
    if (this.stopped) return;
    this.sweepHandle = this.clock.setTimer(() => {
      this.sweep();
      this.armSweep();
    }, this.sweepEveryMs);
  }

  /** Passivates or expires idle actors, expires old passivated ones, and fails overdue waiting calls. */
  sweep(): void {
    const now = this.clock.now();
    this.coarseNow = now;
    for (const act of this.busy) if (act.expireQueued(now) === 0 && act.status !== Status.Activating) this.busy.delete(act);
    for (let a = this.lruTail; a !== null; ) {
      const prev = a.lruPrev;
      const idleFor = now - a.lastUsed - this.sweepEveryMs;
      const { idleTimeoutMs, expireAfterMs } = a.type;
      if (a.status === Status.Active && a.idle) {
        if (expireAfterMs !== undefined && idleFor >= expireAfterMs && a.timers.length === 0) this.destroy(a, false);
        else if (idleFor >= idleTimeoutMs) void this.passivate(a);
      }
      if (idleFor < this.shortestIdleMs) break; // the rest of the list was used more recently still
      a = prev;
    }
    for (const slot of this.slots.values()) {
      for (const [id, grave] of slot.graves) {
        if (now - grave.at < GRAVE_MS) break;
        slot.graves.delete(id);
      }
      const expire = slot.type.expireAfterMs;
      if (expire === undefined) continue;
      for (const [id, entry] of slot.passive) {
        const idleFor = now - entry.lastUsed - this.sweepEveryMs;
        // Entries are in passivation order, and an actor is passivated at most an idle timeout
        // (plus a sweep) after its last use: once one is that young, the rest are too.
        if (now - entry.passivatedAt + slot.type.idleTimeoutMs + this.sweepEveryMs < expire) break;
        if (entry.due.length === 0 && idleFor >= expire) {
          slot.passive.delete(id);
          const seq = slot.type.backup.replicates ? ((parse(entry.data) as ActorRecord).seq ?? 0) + 1 : 0;
          this.bury(slot, id, seq);
          this.timers.removeActor(slot.type.name, id);
          this.counters.destroyed++;
          this.hooks.destroyed?.(slot.type, id, this.partitionOf(id), seq);
        }
      }
    }
  }

  // ---- called by activations ----

  /** Whether `committed` has anything to do for a turn that did not destroy its actor. */
  get hasCommitWork(): boolean {
    return this.hooks.committed !== undefined;
  }

  /** A source name for an activation's live updates, unique in the cluster (random per host, then a counter). */
  updateSource(): string {
    return `${this.sourcePrefix}${(++this.sources).toString(36)}`;
  }

  /** See `HostHooks.published`. */
  published(type: ActorType, id: string, source: string, first: number, packed: readonly string[]): void {
    try {
      this.hooks.published?.(type, id, source, first, packed);
    } catch (err) {
      this.log.warn({ err, actor: type.name, id }, "live updates could not be published");
    }
  }

  /** See `HostHooks.reconfirm`; resolves at once without replication. */
  reconfirm(act: Activation): Promise<void> {
    return this.hooks.reconfirm?.(act) ?? Promise.resolve();
  }

  /** A writing turn committed. */
  committed(turn: CommittedTurn): Promise<void> | undefined {
    const pending = this.hooks.committed?.(turn);
    if (turn.destroyed) this.destroy(turn.act, true);
    return pending;
  }

  timersChanged(act: Activation, before: readonly TimerRecord[]): void {
    for (const t of act.timers) if (!before.includes(t)) this.timers.add({ due: t.due, actorType: act.type.name, actorId: act.id, timerId: t.id });
  }

  markBusy(act: Activation): void {
    this.busy.add(act);
  }

  onIdle(act: Activation): void {
    if (this.busy.size !== 0) this.busy.delete(act);
  }

  private registerTimers(typeName: string, id: string, timers: readonly TimerRecord[]): void {
    for (const t of timers) this.timers.add({ due: t.due, actorType: typeName, actorId: id, timerId: t.id });
  }

  private fireTimer(e: TimerEntry): void {
    const slot = this.slots.get(e.actorType);
    if (slot === undefined || this.stopped) return;
    if (this.hooks.canRun && !this.hooks.canRun(this.partitionOf(e.actorId))) {
      // The partition is moving or recovering: try again shortly (it is dropped if it moves away).
      this.timers.add({ ...e, due: this.clock.now() + 50 });
      return;
    }
    let act = slot.active.get(e.actorId);
    if (act === undefined) {
      if (!slot.passive.has(e.actorId)) return; // destroyed or moved away
      act = this.activate(slot, e.actorId);
    }
    const target = act;
    this.whenReady(target)
      .then((ok) => {
        if (!ok) return undefined;
        const turn = target.timerTurn(e.timerId);
        if (turn === null) return undefined; // cancelled
        this.counters.timersFired++;
        this.touch(target);
        return target.call(turn, [], Infinity);
      })
      .catch((err: unknown) => {
        this.counters.timerErrors++;
        this.log.warn({ err, actor: e.actorType, id: e.actorId, timer: e.timerId }, "timer handler failed");
      });
  }
}

function dueOf(timers: readonly TimerRecord[]): ReadonlyArray<readonly [string, number]> {
  return timers.length === 0 ? NO_TIMERS : timers.map((t) => [t.id, t.due] as const);
}

const NO_TIMERS: ReadonlyArray<readonly [string, number]> = Object.freeze([]);

function hookEntry(name: string, fn: HandlerEntry["fn"]): HandlerEntry {
  return { name, fn, readonly: false, minArgs: 0, maxArgs: 0 };
}
