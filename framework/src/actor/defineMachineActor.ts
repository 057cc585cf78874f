import {
  createActor,
  type AnyActorRef,
  type AnyStateMachine,
  type ContextFrom,
  type EventFromLogic,
  type InputFrom,
  type OutputFrom,
  type SnapshotFrom,
} from "xstate";
import { ConfigError, EventNotAcceptedError, InvalidEventError, MachineError, type MachineStateValue } from "../errors.js";
import { none, type BackupPolicy } from "../replication/policy.js";
import { toMillis, type Duration } from "../time/duration.js";
import { checkReadFrom, DEFAULT_IDLE_TIMEOUT, defineType, type ActorType, type HandlerEntry } from "./defineActor.js";
import type { ActorContext, ActorDefinition, QueryContext, ReadFrom } from "./types.js";

/**
 * An xstate v5 machine as an actor: events are the calls, the persisted snapshot is the
 * state, and delayed transitions (`after`, delayed `raise`/`sendTo` to itself) become the
 * runtime's durable timers — xstate cannot restore its own delays from a snapshot, Berth can,
 * on any node, after passivation or a move. See docs/guides/xstate-actors.md.
 */

/** What `send` and `snapshot` return: the machine's public state. */
export interface MachineView<M extends AnyStateMachine> {
  readonly value: SnapshotFrom<M> extends { value: infer V } ? V : unknown;
  readonly context: ContextFrom<M>;
  readonly status: "active" | "done" | "error" | "stopped";
  readonly output: OutputFrom<M> | undefined;
}

/** The handlers a machine actor offers. */
export interface MachineHandlers<M extends AnyStateMachine> {
  /** Sends an event; resolves with the state after the machine processed it. */
  send: (ctx: ActorContext<unknown, {}>, event: EventFromLogic<M>) => MachineView<M>;
}

/** The queries a machine actor offers. */
export interface MachineQueries<M extends AnyStateMachine> {
  /** The current state. */
  snapshot: (ctx: QueryContext<unknown, {}>) => MachineView<M>;
  /** Whether the event would cause a transition now. */
  can: (ctx: QueryContext<unknown, {}>, event: EventFromLogic<M>) => boolean;
}

/** Options of `defineMachineActor`. */
export interface MachineActorOptions<M extends AnyStateMachine> {
  /** The machine's input for a new actor; receives the actor id. */
  input?: (id: string) => InputFrom<M>;
  backup?: BackupPolicy;
  /** Who answers `snapshot` and `can`: the owner (default) or a caller holding a hot backup (see `ActorSpec.readFrom`). */
  readFrom?: ReadFrom;
  idleTimeout?: Duration;
  expireAfter?: Duration;
  /**
   * Refuse events the current state does not accept: `send` fails with `EventNotAcceptedError`
   * and nothing changes, instead of xstate's default of ignoring them silently (and answering
   * the unchanged state). "Accepts" is xstate's `can(event)`: a transition exists and its guard
   * passes. Delayed events the machine sent itself are never refused. Default false.
   */
  refuseUnhandled?: boolean;
}

const DELIVER = "$deliver";

/**
 * Defines an actor whose logic is an xstate v5 machine.
 *
 * @param name the actor type's name
 * @param machine the machine; keep `after` delays and `raise`/`sendTo` self-sends — they become durable timers
 * @param options `input` for new actors, plus the usual backup and lifetime options
 * @example
 * ```ts
 * const checkout = createMachine({
 *   id: "checkout", initial: "shipping",
 *   states: {
 *     shipping: { on: { NEXT: "payment" } },
 *     payment: { after: { 900_000: "abandoned" }, on: { PAY: "done" } },
 *     abandoned: {}, done: { type: "final" },
 *   },
 * });
 * export const Checkout = defineMachineActor("checkout", checkout);
 * await node.ref(Checkout, "c1").send({ type: "NEXT" });
 * ```
 */
export function defineMachineActor<const N extends string, M extends AnyStateMachine>(
  name: N,
  machine: M,
  options: MachineActorOptions<M> = {},
): ActorDefinition<N, unknown, {}, MachineHandlers<M>, MachineQueries<M>> {
  if (typeof (machine as { transition?: unknown })?.transition !== "function") {
    throw new ConfigError(`defineMachineActor("${name}") needs an xstate v5 machine made with createMachine() or setup().createMachine()`);
  }
  const input = options.input;
  const refuse = options.refuseUnhandled === true;
  const start = (ctx: ActorContext<unknown, {}>): void => {
    if (ctx.state !== null) return;
    ctx.state = runMachine(name, machine, ctx, undefined, input?.(ctx.id));
  };
  const handlers = new Map<string, HandlerEntry>([
    entry("send", false, 1, (ctx: ActorContext<unknown, {}>, event: unknown) => {
      checkEvent(event, false);
      ctx.state = runMachine(name, machine, ctx, event as { type: string }, undefined, refuse);
      return view(ctx.state);
    }),
    // Durable timers deliver delayed events through this handler (xstate.after.* included).
    entry(DELIVER, false, 2, (ctx: ActorContext<unknown, {}>, event: unknown) => {
      checkEvent(event, true);
      ctx.state = runMachine(name, machine, ctx, event as { type: string });
      return view(ctx.state);
    }),
    entry("snapshot", true, 0, (ctx: QueryContext<unknown, {}>) => view(ctx.state)),
    entry("can", true, 1, (ctx: QueryContext<unknown, {}>, event: unknown) => {
      checkEvent(event, false);
      const logic: AnyStateMachine = machine;
      const snap = createActor(logic, { snapshot: ctx.state as never }).getSnapshot() as { can(e: unknown): boolean };
      return snap.can(event);
    }),
  ]);
  const type: ActorType = {
    name,
    initialState: () => null,
    handlers,
    deps: undefined,
    backup: options.backup ?? none(),
    readFrom: checkReadFrom(name, options.readFrom, options.backup ?? none()),
    publishes: false,
    idleTimeoutMs: toMillis(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT, `${name}.idleTimeout`),
    expireAfterMs: options.expireAfter === undefined ? undefined : toMillis(options.expireAfter, `${name}.expireAfter`),
    // The machine starts in the first turn, where its entry actions can schedule durable timers.
    onActivate: start as ActorType["onActivate"],
    onDeactivate: undefined,
  };
  return defineType(type) as ActorDefinition<N, unknown, {}, MachineHandlers<M>, MachineQueries<M>>;
}

function entry(name: string, readonly: boolean, args: number, fn: (ctx: never, ...a: never[]) => unknown): [string, HandlerEntry] {
  return [name, { name, fn, readonly, minArgs: args, maxArgs: args }];
}

function checkEvent(event: unknown, internal: boolean): void {
  if (typeof event !== "object" || event === null || Array.isArray(event)) throw new InvalidEventError(`expected an object, got ${event === null ? "null" : typeof event}`);
  const type = (event as { type?: unknown }).type;
  if (typeof type !== "string" || type.length === 0 || type.length > 256) throw new InvalidEventError(`"type" must be a non-empty string of at most 256 characters`);
  if (!internal && type.startsWith("xstate.")) throw new InvalidEventError(`event types starting with "xstate." are reserved for the machine itself`);
}

/**
 * Restores the machine from the committed snapshot (or starts it), routes its self-addressed
 * delays to durable timers, delivers the event, and returns the persisted snapshot.
 */
function runMachine(
  name: string,
  machine: AnyStateMachine,
  ctx: ActorContext<unknown, {}>,
  event: { type: string } | undefined,
  input?: unknown,
  refuseUnhandled = false,
): unknown {
  const actor = ctx.state === null ? createActor(machine, { input }) : createActor(machine, { snapshot: ctx.state as never });
  const scheduler = actor.system.scheduler;
  const schedule = scheduler.schedule.bind(scheduler);
  const cancel = scheduler.cancel.bind(scheduler);
  scheduler.schedule = (source: AnyActorRef, target: AnyActorRef, ev: { type: string }, delay: number, id?: string) => {
    if (source !== actor || target !== actor) return schedule(source, target, ev, delay, id); // child actors: not durable
    const key = id ?? `anon-${ctx.schedule.list().length}`;
    ctx.schedule.after(delay, DELIVER, { ...ev }, key);
  };
  scheduler.cancel = (source: AnyActorRef, id: string) => {
    if (source !== actor) return cancel(source, id);
    for (const t of ctx.schedule.list()) if (t.handler === DELIVER && t.args[1] === id) ctx.schedule.cancel(t.id);
  };
  let failure: unknown;
  const sub = actor.subscribe({ error: (err) => (failure = err) });
  try {
    actor.start();
    if (event !== undefined && refuseUnhandled) {
      const before = actor.getSnapshot() as { can(e: unknown): boolean; value: MachineStateValue };
      if (!before.can(event)) throw new EventNotAcceptedError(name, ctx.id, event.type, before.value);
    }
    if (event !== undefined) actor.send(event);
    const snap = actor.getSnapshot() as { status: string; error?: unknown };
    if (snap.status === "error" || failure !== undefined) {
      const err = failure ?? snap.error;
      throw new MachineError(name, err instanceof Error ? err.message : String(err), { cause: err });
    }
    return actor.getPersistedSnapshot();
  } finally {
    sub.unsubscribe();
    actor.stop();
  }
}

function view(state: unknown): MachineView<AnyStateMachine> {
  const s = state as { value: unknown; context: unknown; status: MachineView<AnyStateMachine>["status"]; output?: unknown };
  return { value: s.value, context: s.context, status: s.status, output: s.output };
}
