import type { DependencyContainer } from "tsyringe";
import { ArityError, CallOutcomeUnknownError, ConfigError, DeadlineExceededError, NotOwnerError, PayloadTooLargeError, QueryMutationError, UnknownHandlerError } from "../errors.js";
import { forgetCalls, mayHaveForgotten, outcomeChars, overOutcomeBounds } from "./callIds.js";
import { callerError } from "./callerError.js";
import { copyValue, commitValue, firstChange } from "../state/walk.js";
import type { Delta } from "../state/delta.js";
import type { ActorType, HandlerEntry } from "./defineActor.js";
import { ReadContext, WriteContext } from "./context.js";
import type { ActorRecord, CallOutcome, TimerRecord } from "./record.js";
import { fromWireError, toWireError, type WireError } from "../transport/wireErrors.js";
import { detached, packPayload } from "../transport/wire.js";
import type { TimerInfo } from "./types.js";
import type { ActorHost } from "./ActorHost.js";

/** Where an activation is in its life. */
export const enum Status {
  /** Loading state and running `onActivate`; calls wait. */
  Activating,
  Active,
  /** Running `onDeactivate` before passivation; calls wait and reactivate it afterwards. */
  Deactivating,
  /** Passivated, destroyed or moved away; the host no longer lists it. */
  Gone,
}

/** A call waiting in an actor's mailbox. */
export interface PendingCall {
  readonly entry: HandlerEntry;
  readonly args: unknown[];
  readonly deadline: number;
  readonly callId: string | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** What a committed writing turn produced, handed to the host (replication hooks in). */
export interface CommittedTurn {
  readonly act: Activation;
  /** The handler that ran. */
  readonly handler: string;
  /** The actor's replication sequence after this turn. */
  readonly seq: number;
  /** The outcome recorded for this turn's call id, if it had one. */
  readonly call: CallOutcome | undefined;
  /** The state changes, when the actor's backup policy replicates. */
  readonly delta: Delta | null;
  /** Whether the timers changed (they travel with the delta). */
  readonly timersChanged: boolean;
  readonly destroyed: boolean;
}

/**
 * One live actor: its state, its mailbox and the turn discipline.
 *
 * - One writing turn at a time; queries share the actor with each other, never with a writer.
 * - Calls start in arrival order (a query never overtakes an earlier handler).
 * - A writing turn is a transaction: state and timers are committed only if the handler and
 *   the result's validation succeed; otherwise they are restored from the committed copy.
 *
 * The fast path (idle actor, synchronous handler) runs the whole turn inside the call and
 * allocates a context, the committed copy of what changed, and one promise.
 */
export class Activation {
  status: Status = Status.Activating;
  /** Why activation failed (status `Gone`), for calls that arrive after it did. */
  failure: Error | null = null;
  /** The state handlers see and change. */
  live: unknown;
  /**
   * The last committed state; shares subtrees across turns. Never mutated once handed out
   * (`toRecord`); until then, arrays in `owned` (made by this actor's own commits) are
   * changed in place by the next commit instead of copied.
   */
  committed: unknown;
  /** Arrays of `committed` that only this activation holds (null: none, e.g. just after a hand-out). */
  private owned: WeakSet<object> | null = null;
  /** Whether `load` ran: from then on `toRecord` is the committed record, even while activating. */
  loaded = false;
  timers: readonly TimerRecord[] = EMPTY_TIMERS;
  timerSeq = 0;
  /** The timers as changed by the running writing turn (copy-on-write), else null. */
  private turnTimers: TimerRecord[] | null = null;
  private turnTimerSeq = 0;
  destroyRequested = false;
  /** Live updates the running writing turn published, packed (`packPayload`); null when none. */
  private turnUpdates: string[] | null = null;
  private turnUpdateChars = 0;
  /** Who published this activation's updates, and the number of the last one (see `ActorUpdate.missed`). */
  private updateSource: string | null = null;
  private updateCount = 0;
  deps: unknown = undefined;
  container: DependencyContainer | undefined = undefined;
  lastUsed = 0;
  /** Partition the actor's id hashes to. */
  readonly partition: number;
  /**
   * Outcomes of recent calls by call id, oldest first (a map keeps insertion order; see
   * `CallOutcome`). Every write looks its id up: a scan of a list of 64 cost a fifth of a turn.
   */
  private calls: Map<string, CallOutcome> | null = null;
  /** The latest time an id of an outcome dropped from `calls` was made (see actor/callIds.ts). */
  callsForgotten: number | undefined = undefined;
  /** `outcomeChars` of the outcomes in `calls`, together. */
  private callsChars = 0;
  /**
   * Replication of turns with call ids that has not been confirmed yet (pending, or failed),
   * by call id. A retry of such a call must not be answered from its outcome until the turn is
   * as durable as its policy promises — else a caller whose first attempt timed out would get
   * an acknowledgement for a write no backup holds.
   */
  private unconfirmed: Map<string, Promise<void>> | null = null;
  /** Replication sequence (see `ActorRecord.seq`). */
  seq = 0;

  private writing = false;
  private readers = 0;
  private queue: PendingCall[] | null = null;
  private qhead = 0;
  private draining = false;

  /** Least-recently-used list links, owned by the host. */
  lruPrev: Activation | null = null;
  lruNext: Activation | null = null;

  constructor(
    readonly host: ActorHost,
    readonly type: ActorType,
    readonly id: string,
    partition: number,
  ) {
    this.partition = partition;
  }

  /** True when nothing runs and nothing waits. */
  get idle(): boolean {
    return !this.writing && this.readers === 0 && (this.queue === null || this.qhead >= this.queue.length);
  }

  /** Number of calls waiting (not running). */
  get queued(): number {
    return this.queue === null ? 0 : this.queue.length - this.qhead;
  }

  /** Installs a record (fresh or restored) as committed and live state. */
  load(record: ActorRecord): void {
    this.loaded = true;
    this.committed = record.state;
    this.owned = null; // the record's holder has these arrays
    this.live = copyValue(record.state, "state");
    this.timers = record.timers;
    this.timerSeq = record.timerSeq;
    this.lastUsed = record.lastUsed;
    this.calls = record.calls && record.calls.length > 0 ? new Map(record.calls.map((c) => [c.id, c])) : null;
    this.callsChars = record.calls?.reduce((sum, c) => sum + outcomeChars(c), 0) ?? 0;
    this.callsForgotten = record.callsForgotten;
    this.seq = record.seq ?? 0;
  }

  /** The durable record of the committed state. */
  toRecord(): ActorRecord {
    this.pruneCalls(this.host.clock.now());
    // The record shares the committed tree: from now on, commits copy what they change.
    this.owned = null;
    const record = { state: this.committed, timers: this.timers, timerSeq: this.timerSeq, lastUsed: this.lastUsed, seq: this.seq, ...(this.callsForgotten !== undefined ? { callsForgotten: this.callsForgotten } : {}) };
    return this.calls === null ? record : { ...record, calls: [...this.calls.values()] };
  }

  /**
   * Calls a handler or query. Validates arity; the caller validated (copied) the arguments.
   * Rejects with `ActorHandlerError` if the handler throws (state unchanged).
   * @param deadline when a waiting call gives up (ms since the epoch); 0 means the node's call timeout from now
   * @param callId set by remote callers: a writing call whose id was seen recently is answered
   *   from its recorded outcome instead of running again
   */
  call(entry: HandlerEntry, args: unknown[], deadline: number, callId?: string): Promise<unknown> {
    if (args.length < entry.minArgs || args.length > entry.maxArgs) {
      return Promise.reject(new ArityError(this.type.name, entry.name, { min: entry.minArgs, max: entry.maxArgs }, args.length));
    }
    if (this.status === Status.Active && (this.queue === null || this.qhead >= this.queue.length) && this.canStart(entry)) {
      return this.run(entry, args, callId);
    }
    // Only waiting calls need a deadline, so the fast path never reads the clock.
    const due = deadline === 0 ? this.host.clock.now() + this.host.callTimeoutMs : deadline;
    return new Promise((resolve, reject) => this.enqueue({ entry, args, deadline: due, callId, resolve, reject }));
  }

  /** Runs a turn now, bypassing the mailbox: used for lifecycle turns while activating or deactivating. */
  runLifecycle(entry: HandlerEntry): Promise<unknown> {
    return this.run(entry, []);
  }

  enqueue(call: PendingCall): void {
    if (this.queue === null) {
      this.queue = [call];
      this.qhead = 0;
      this.host.markBusy(this);
    } else this.queue.push(call);
  }

  /** Removes and returns the waiting calls (to hand them to a new activation). */
  takeQueue(): PendingCall[] {
    const q = this.queue === null ? [] : this.queue.slice(this.qhead);
    this.queue = null;
    this.qhead = 0;
    return q;
  }

  /** Rejects waiting calls whose deadline has passed. Returns how many wait still. */
  expireQueued(now: number): number {
    const q = this.queue;
    if (q === null) return 0;
    let kept = 0;
    for (let i = this.qhead; i < q.length; i++) {
      const c = q[i] as PendingCall;
      if (c.deadline <= now) c.reject(new DeadlineExceededError(c.deadline - now + this.host.callTimeoutMs, `waiting for ${this.type.name}/${this.id}`));
      else q[kept++] = c;
    }
    q.length = kept;
    this.qhead = 0;
    if (kept === 0) this.queue = null;
    return kept;
  }

  private canStart(entry: HandlerEntry): boolean {
    return entry.readonly ? !this.writing : !this.writing && this.readers === 0;
  }

  /** Starts queued calls that may run now, in order. */
  drain(): void {
    if (this.draining || this.status !== Status.Active) return;
    this.draining = true;
    try {
      let now = -1;
      while (this.queue !== null && this.qhead < this.queue.length) {
        const call = this.queue[this.qhead] as PendingCall;
        if (!this.canStart(call.entry)) break;
        this.queue[this.qhead++] = undefined as unknown as PendingCall;
        if (this.qhead >= this.queue.length) this.queue = null;
        if (now < 0) now = this.host.clock.now();
        if (call.deadline <= now) {
          call.reject(new DeadlineExceededError(this.host.callTimeoutMs, `waiting for ${this.type.name}/${this.id}`));
          continue;
        }
        this.run(call.entry, call.args, call.callId).then(call.resolve, call.reject);
      }
    } finally {
      this.draining = false;
    }
    if (this.idle) this.host.onIdle(this);
  }

  private run(entry: HandlerEntry, args: unknown[], callId?: string): Promise<unknown> {
    this.lastUsed = this.host.coarseNow;
    if (entry.readonly) return this.runQuery(entry, args);
    if (callId !== undefined) {
      const seen = this.calls?.get(callId);
      if (seen === undefined && mayHaveForgotten(callId, this.callsForgotten)) {
        this.host.counters.duplicateCalls++;
        return Promise.reject(new CallOutcomeUnknownError(this.type.name, this.id, callId));
      }
      if (seen !== undefined) {
        this.host.counters.duplicateCalls++;
        const answer = (): unknown => {
          if (seen.ok) return copyValue(seen.value, "result");
          throw fromWireError(seen.value as WireError);
        };
        const pending = this.unconfirmed?.get(callId);
        if (pending === undefined) return new Promise((resolve) => resolve(answer()));
        // The first attempt's replication is still running or failed: answer once it is confirmed.
        return pending
          .catch(() => this.host.reconfirm(this))
          .then(() => {
            this.unconfirmed?.delete(callId);
            return answer();
          });
      }
    }
    return this.runWrite(entry, args, callId);
  }

  /** Records a call's outcome for retries; bounded by count and age. */
  private recordCall(callId: string, ok: boolean, value: unknown): CallOutcome {
    const now = this.host.clock.now();
    // No `value` key for `undefined` (a void handler): the record stays plain JSON, so
    // replicating it needs no superjson (see transport/control.ts).
    const id = detached(callId); // kept for the actor's recent calls: not a view into the request's text
    const outcome: CallOutcome = value === undefined ? { id, at: now, ok } : { id, at: now, ok, value };
    (this.calls ??= new Map()).set(id, outcome);
    this.callsChars += outcomeChars(outcome);
    this.pruneCalls(now);
    return outcome;
  }

  private pruneCalls(now: number): void {
    const calls = this.calls;
    if (calls === null) return;
    const cutoff = now - this.host.dedupWindowMs;
    let left = calls.size;
    const dropped: CallOutcome[] = [];
    for (const c of calls.values()) {
      // By age, and by count and size (as the copies do).
      if (c.at >= cutoff && !overOutcomeBounds(left, this.callsChars)) break;
      dropped.push(c);
      left--;
      this.callsChars -= outcomeChars(c);
    }
    if (dropped.length === 0) return;
    for (const c of dropped) calls.delete(c.id);
    this.callsForgotten = forgetCalls(this.callsForgotten, dropped);
    if (calls.size === 0) this.calls = null;
    if (this.unconfirmed !== null) {
      for (const id of this.unconfirmed.keys()) if (this.calls?.has(id) !== true) this.unconfirmed.delete(id);
      if (this.unconfirmed.size === 0) this.unconfirmed = null;
    }
  }

  private runWrite(entry: HandlerEntry, args: unknown[], callId?: string): Promise<unknown> {
    this.writing = true;
    this.turnTimers = null;
    this.turnUpdates = null;
    this.destroyRequested = false;
    const ctx = new WriteContext(this);
    let out: unknown;
    try {
      out = apply(entry.fn, ctx, args);
    } catch (error) {
      return Promise.reject(this.abortWrite(ctx, entry, error, callId));
    }
    if (isThenable(out)) {
      return Promise.resolve(out).then(
        (value) => this.commitWrite(ctx, entry, value, callId),
        (error: unknown) => {
          throw this.abortWrite(ctx, entry, error, callId);
        },
      );
    }
    try {
      const result = this.commitWrite(ctx, entry, out, callId);
      return isThenable(result) ? (result as Promise<unknown>) : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Validates result and state, commits, and releases the actor. Returns the result (or its replication promise). */
  private commitWrite(ctx: WriteContext, entry: HandlerEntry, value: unknown, callId: string | undefined): unknown {
    if (this.status === Status.Gone) {
      // The actor moved away while this turn ran: it must not commit here. The caller retries
      // on the new owner (the error is transient, so the retry runs the call there once).
      throw this.abortWrite(ctx, entry, new NotOwnerError(this.partition, 0, null), callId);
    }
    ctx.open = false;
    let result: unknown;
    let delta: Delta | null;
    try {
      result = copyValue(value, `${this.type.name}.${entry.name}() result`);
      delta = this.type.backup.replicates ? [] : null;
      this.committed = commitValue(this.live, this.committed, "state", delta, (this.owned ??= new WeakSet()));
    } catch (error) {
      throw this.abortWrite(ctx, entry, error, callId);
    }
    const call = callId !== undefined ? this.recordCall(callId, true, result) : undefined;
    const timersChanged = this.turnTimers !== null;
    if (timersChanged) {
      const before = this.timers;
      this.timers = this.turnTimers as TimerRecord[];
      this.timerSeq = this.turnTimerSeq;
      this.turnTimers = null;
      this.host.timersChanged(this, before);
    }
    const destroyed = this.destroyRequested;
    const published = this.turnUpdates;
    this.turnUpdates = null;
    this.writing = false;
    if (this.type.backup.replicates) this.seq++;
    const pending = this.host.hasCommitWork || destroyed ? this.host.committed({ act: this, handler: entry.name, seq: this.seq, call, delta, timersChanged, destroyed }) : undefined;
    if (pending !== undefined && callId !== undefined) this.awaitConfirmation(callId, pending);
    // Watchers see a turn's updates once its policy confirmed it, never those of an unconfirmed turn.
    if (published !== null) {
      if (pending === undefined) this.emitUpdates(published);
      else pending.then(() => this.emitUpdates(published), () => undefined);
    }
    if (this.queue !== null) this.drain();
    return pending === undefined ? result : pending.then(() => result);
  }

  /** `ctx.publish`: checks and packs an update of the running turn. */
  addUpdate(update: unknown): void {
    if (!this.type.publishes) {
      throw new ConfigError(`${this.type.name} declares no live updates: add updates: updates<YourUpdate>() to defineActor("${this.type.name}", …) to publish`);
    }
    const packed = packPayload(copyValue(update, `${this.type.name} update`));
    const list = (this.turnUpdates ??= []);
    if (list.length === 0) this.turnUpdateChars = 0;
    if (list.length >= MAX_UPDATES_PER_TURN) throw new ConfigError(`${this.type.name}: a turn may publish at most ${MAX_UPDATES_PER_TURN} updates`);
    this.turnUpdateChars += packed.length;
    if (this.turnUpdateChars > MAX_UPDATE_CHARS) throw new PayloadTooLargeError(MAX_UPDATE_CHARS, this.turnUpdateChars, `${this.type.name}: the updates of one turn`);
    list.push(packed);
  }

  private emitUpdates(packed: readonly string[]): void {
    this.updateSource ??= this.host.updateSource();
    const first = this.updateCount + 1;
    this.updateCount += packed.length;
    this.host.published(this.type, this.id, this.updateSource, first, packed);
  }

  private awaitConfirmation(callId: string, pending: Promise<void>): void {
    (this.unconfirmed ??= new Map()).set(callId, pending);
    pending.then(
      () => {
        if (this.unconfirmed?.get(callId) !== pending) return;
        this.unconfirmed.delete(callId);
        if (this.unconfirmed.size === 0) this.unconfirmed = null;
      },
      () => undefined, // kept: a retry reconfirms before it is answered
    );
  }

  /** Restores the committed state and timers, releases the actor, and returns the error for the caller. */
  private abortWrite(ctx: WriteContext, entry: HandlerEntry, error: unknown, callId?: string): unknown {
    ctx.open = false;
    this.live = copyValue(this.committed, "state");
    this.turnTimers = null;
    this.turnUpdates = null;
    this.destroyRequested = false;
    this.writing = false;
    if ("consumes" in entry) this.commitTimerRemoval((entry as TimerTurnEntry).consumes);
    const callerError = this.toCallerError(entry, error);
    // A transient failure (a deadline, a stopping node) may succeed when retried: not recorded.
    if (callId !== undefined && !TRANSIENT.has((callerError as { code?: string }).code ?? "")) {
      const call = this.recordCall(callId, false, toWireError(callerError));
      // The outcome travels to the backups (no state change), so a retry after failover gets it too.
      if (this.type.backup.replicates && this.host.hasCommitWork) {
        this.seq++;
        this.commitUnawaited({ act: this, handler: entry.name, seq: this.seq, call, delta: [], timersChanged: false, destroyed: false });
      }
    }
    this.drain();
    return callerError;
  }

  private commitTimerRemoval(timerId: string): void {
    const i = this.timers.findIndex((t) => t.id === timerId);
    if (i < 0) return;
    const before = this.timers;
    const next = before.slice();
    next.splice(i, 1);
    this.timers = next;
    this.host.timersChanged(this, before);
    if (this.type.backup.replicates) this.seq++;
    this.commitUnawaited({ act: this, handler: "timer", seq: this.seq, call: undefined, delta: this.type.backup.replicates ? [] : null, timersChanged: true, destroyed: false });
  }

  /**
   * Commits a turn nobody waits for (a failed call's outcome, a consumed timer). Its replication
   * may still fail — a sync backup that does not answer in time, the node stopping — and that
   * failure must be handled here: left unhandled, the rejection would end the node's process.
   */
  private commitUnawaited(turn: CommittedTurn): void {
    const pending = this.host.committed(turn);
    pending?.catch((err: unknown) => this.host.log.debug({ err, actor: this.type.name, id: this.id, handler: turn.handler }, "replication of a turn nobody waits for was not confirmed"));
  }

  private runQuery(entry: HandlerEntry, args: unknown[]): Promise<unknown> {
    this.readers++;
    const ctx = new ReadContext(this);
    let out: unknown;
    try {
      out = apply(entry.fn, ctx, args);
    } catch (error) {
      return Promise.reject(this.failQuery(ctx, entry, error));
    }
    if (isThenable(out)) {
      return Promise.resolve(out).then(
        (value) => this.endQuery(ctx, entry, value),
        (error: unknown) => {
          throw this.failQuery(ctx, entry, error);
        },
      );
    }
    try {
      return Promise.resolve(this.endQuery(ctx, entry, out));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Ends a query that returned: checks it left the state alone and returns its validated result. */
  private endQuery(ctx: ReadContext, entry: HandlerEntry, value: unknown): unknown {
    ctx.open = false;
    let error: unknown = this.host.checkQueries ? this.undoMutation(entry) : null;
    let result: unknown;
    if (error === null) {
      try {
        result = copyValue(value, `${this.type.name}.${entry.name}() result`);
      } catch (e) {
        error = e;
      }
    }
    this.releaseReader();
    if (error !== null) throw this.toCallerError(entry, error);
    return result;
  }

  /** Ends a query that threw; returns the caller's error. */
  private failQuery(ctx: ReadContext, entry: HandlerEntry, thrown: unknown): Error {
    ctx.open = false;
    const mutation = this.host.checkQueries ? this.undoMutation(entry) : null;
    this.releaseReader();
    return this.toCallerError(entry, mutation ?? thrown);
  }

  private releaseReader(): void {
    this.readers--;
    if (this.readers === 0) this.drain();
  }

  /** If a query changed the state, restores it and returns the error; otherwise null. */
  private undoMutation(entry: HandlerEntry): QueryMutationError | null {
    const mutation = this.findMutation();
    if (mutation === null) return null;
    this.live = copyValue(this.committed, "state");
    return new QueryMutationError(this.type.name, entry.name, mutation);
  }

  /** The path of the first change a query made to the state, or null. */
  private findMutation(): string | null {
    return firstChange(this.live, this.committed, "state");
  }

  /** What the caller receives for a failed turn (see `callerError`). */
  private toCallerError(entry: HandlerEntry, error: unknown): Error {
    return callerError(this.type.name, this.id, entry.name, error);
  }

  // ---- timers (called by ctx.schedule during a writing turn) ----

  addTimer(due: number, handler: string, args: unknown[]): string {
    const entry = this.type.handlers.get(handler);
    if (entry === undefined) throw new UnknownHandlerError(this.type.name, handler, [...this.type.handlers.keys()]);
    if (args.length < entry.minArgs || args.length > entry.maxArgs) {
      throw new ArityError(this.type.name, handler, { min: entry.minArgs, max: entry.maxArgs }, args.length);
    }
    const timers = this.editTimers();
    const id = `t${this.turnTimerSeq++}`;
    const record: TimerRecord = { id, due, handler, args: copyValue(args, `schedule ${handler}() args`) };
    let i = timers.length;
    while (i > 0 && (timers[i - 1] as TimerRecord).due > due) i--;
    timers.splice(i, 0, record);
    return id;
  }

  cancelTimer(timerId: string): boolean {
    const current = this.turnTimers ?? this.timers;
    const i = current.findIndex((t) => t.id === timerId);
    if (i < 0) return false;
    this.editTimers().splice(i, 1);
    return true;
  }

  pendingTimers(): readonly TimerInfo[] {
    return (this.turnTimers ?? this.timers).map((t) => ({ ...t }));
  }

  private editTimers(): TimerRecord[] {
    if (this.turnTimers === null) {
      this.turnTimers = this.timers.slice();
      this.turnTimerSeq = this.timerSeq;
    }
    return this.turnTimers;
  }

  /**
   * The turn that fires a due timer: it removes the timer and calls its handler. If the
   * handler throws, the state rolls back but the removal still commits, so a timer fires
   * exactly once. Returns null if the timer was cancelled meanwhile.
   */
  timerTurn(timerId: string): TimerTurnEntry | null {
    const timer = this.timers.find((t) => t.id === timerId);
    const target = timer && this.type.handlers.get(timer.handler);
    if (timer === undefined || target === undefined) return null;
    return {
      name: timer.handler,
      readonly: false,
      minArgs: 0,
      maxArgs: 0,
      consumes: timerId,
      fn: ((ctx: WriteContext) => {
        this.cancelTimer(timerId);
        return (target.fn as (ctx: WriteContext, ...a: unknown[]) => unknown)(ctx, ...copyValue(timer.args, "timer args"));
      }) as HandlerEntry["fn"],
    };
  }
}

/** A turn that consumes a timer (see `Activation.timerTurn`). */
export interface TimerTurnEntry extends HandlerEntry {
  readonly consumes: string;
}

const EMPTY_TIMERS: readonly TimerRecord[] = Object.freeze([]);
/** Bounds of one turn's live updates: their count, and their packed size in characters. */
export const MAX_UPDATES_PER_TURN = 100;
export const MAX_UPDATE_CHARS = 256 * 1024;

/** Error codes that say nothing about the call itself, so a retry may run it. */
const TRANSIENT = new Set(["deadline-exceeded", "node-stopped", "not-owner", "node-unreachable"]);

/** Calls a handler with its context and arguments; short argument lists avoid a spread. */
function apply(fn: HandlerEntry["fn"], ctx: object, args: unknown[]): unknown {
  const f = fn as (ctx: object, ...a: unknown[]) => unknown;
  switch (args.length) {
    case 0:
      return f(ctx);
    case 1:
      return f(ctx, args[0]);
    case 2:
      return f(ctx, args[0], args[1]);
    case 3:
      return f(ctx, args[0], args[1], args[2]);
    default:
      return f(ctx, ...args);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}
