import type { Logger } from "pino";
import type { Duration } from "../time/duration.js";
import type { BackupPolicy } from "../replication/policy.js";
import type { DepsSpec, ResolvedDeps } from "./deps.js";

/**
 * The public types of actors: what a definition holds, what a handler receives, and what a
 * reference offers. Read docs/guides/writing-actors.md for the concepts.
 */

/** Makes a state type read-only all the way down, as queries see it. */
export type DeepReadonly<T> =
  T extends (...args: never[]) => unknown ? T
  : T extends Date | RegExp | URL ? T
  : T extends ReadonlyMap<infer K, infer V> ? ReadonlyMap<K, DeepReadonly<V>>
  : T extends ReadonlySet<infer V> ? ReadonlySet<DeepReadonly<V>>
  : T extends readonly unknown[] ? { readonly [I in keyof T]: DeepReadonly<T[I]> }
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
  : T;

/** A pending durable timer, as `ctx.schedule.list()` shows it. */
export interface TimerInfo {
  readonly id: string;
  /** When it fires, in ms since the epoch. */
  readonly due: number;
  /** The handler or query it calls. */
  readonly handler: string;
  readonly args: readonly unknown[];
}

/**
 * Durable timers owned by the runtime. They are stored as absolute deadlines with the
 * actor's state, so they survive passivation and moves between nodes, and fire exactly once
 * as an ordinary turn on whichever node owns the actor when they are due.
 */
export interface Schedule {
  /**
   * Calls `handler(...args)` on this actor after `delay`. Returns the timer id.
   * @example ctx.schedule.after("15m", "expire")
   */
  after(delay: Duration, handler: string, ...args: unknown[]): string;
  /** Calls `handler(...args)` on this actor at `when` (a Date or ms since the epoch). */
  at(when: Date | number, handler: string, ...args: unknown[]): string;
  /** Cancels a timer; returns whether it was pending. */
  cancel(timerId: string): boolean;
  /** The pending timers, earliest first. */
  list(): readonly TimerInfo[];
}

/** Creates references to actors (used from contexts, nodes and clusters alike). */
export interface RefFactory {
  /**
   * A typed reference to the actor `id` of type `def`. Calls go wherever the actor lives.
   * @example const cart = ctx.ref(Cart, "session-42"); await cart.add("sku-1", 2);
   */
  ref<A extends AnyActorDefinition>(def: A, id: string): ActorRef<A>;
}

/** What a query (read-only handler) receives. */
export interface QueryContext<S, D> extends RefFactory {
  /** The actor type's name. */
  readonly actorType: string;
  /** The actor's id (the session id). */
  readonly id: string;
  /** The state, read-only. */
  readonly state: DeepReadonly<S>;
  /** The resolved dependencies declared in `deps`. */
  readonly deps: D;
  /** The node's current time (a fake clock in tests). */
  now(): Date;
  /** A logger bound to this actor. */
  readonly log: Logger;
}

/** What a handler receives: the state to change, timers, and the rest of `QueryContext`. */
export interface ActorContext<S, D, U = never> extends Omit<QueryContext<S, D>, "state"> {
  /** The state. Change it in place or assign a new value; a throw undoes every change. */
  state: S;
  /** Durable timers. */
  readonly schedule: Schedule;
  /** Deletes this actor (its state and timers) when the turn commits, e.g. on logout. */
  destroy(): void;
  /**
   * Publishes a live update to this actor's watchers (`node.watch`), wherever they are, once the
   * turn commits and its backup policy confirmed it; a turn that throws publishes nothing. The
   * type must declare `updates: updates<U>()`. Delivery is at most once: see
   * docs/guides/live-updates.md.
   * @example ctx.publish({ kind: "posted", from: user, text });
   */
  publish(update: U): void;
}

/** A handler: changes state. Its first parameter is the context; the rest are the call's arguments. */
export type Handler<S, D, U = never> = (ctx: ActorContext<S, D, U>, ...args: never[]) => unknown;

/** Declares the type of the live updates an actor publishes (`ActorSpec.updates`). Made by `updates<U>()`. */
export interface UpdatesSpec<U> {
  readonly kind: "updates";
  /** Phantom field carrying the type; it holds nothing at run time. */
  readonly __update?: U;
}

/**
 * What a watcher receives (`node.watch`): one published update.
 */
export interface ActorUpdate<U> {
  /** What the handler passed to `ctx.publish` (a copy). */
  readonly data: U;
  /**
   * True when updates may have been missed since the previous one this watcher received: one
   * was lost on the way, or the actor was reactivated, moved or failed over in between. Re-read
   * the state (a query) when you see it.
   */
  readonly missed: boolean;
}

/** A running watch (`node.watch`). */
export interface Watch {
  /** Stops delivering updates to this watcher. Idempotent. */
  stop(): void;
}
/** A query: reads state. Queries run concurrently with each other, never with a handler. */
export type Query<S, D> = (ctx: QueryContext<S, D>, ...args: never[]) => unknown;

/** Who answers an actor type's queries (see `ActorSpec.readFrom`). */
export type ReadFrom = "owner" | "backup";

/** Options of `defineActor`. */
export interface ActorSpec<S, D extends DepsSpec, H, Q, U = never> {
  /** The initial state of a new actor. Receives the actor's id. */
  state: (id: string) => S;
  /** Handlers: each call runs as one transactional turn that may change the state. */
  handlers?: H;
  /** Queries: read-only, may run concurrently with each other. */
  queries?: Q;
  /** Dependencies resolved from the node's tsyringe container, by explicit token. */
  deps?: D;
  /**
   * The live updates handlers may publish (`ctx.publish`) to watchers (`node.watch`):
   * `updates: updates<RoomUpdate>()`. Without it, `ctx.publish` does not type-check.
   */
  updates?: UpdatesSpec<U>;
  /** How turns are replicated. Default: `none()` (memory only). */
  backup?: BackupPolicy;
  /**
   * Who answers this type's queries. `"owner"` (default): the node that owns the actor.
   * `"backup"`: a caller that holds a hot backup copy of the actor answers from it, without a
   * network hop, within the staleness bound of the backup policy; any other caller asks the
   * owner. Needs a policy with hot backups (`sync({ backups })`, `async()`).
   * See docs/guides/backup-policies.md#reading-from-backups.
   */
  readFrom?: ReadFrom;
  /** Passivate after this long without calls (state is kept). Default `"10m"`. */
  idleTimeout?: Duration;
  /** Delete the actor after this long without calls or timers (session expiry). Default: never. */
  expireAfter?: Duration;
  /** Runs as the first turn of each activation (fresh, reactivated or moved). */
  onActivate?: (ctx: ActorContext<S, ResolvedDeps<D>, U>) => void | Promise<void>;
  /** Runs as the last turn before passivation or a move away. */
  onDeactivate?: (ctx: ActorContext<S, ResolvedDeps<D>, U>) => void | Promise<void>;
}

/** Removes the index signature a missing `handlers` or `queries` would otherwise leave behind. */
export type KnownKeys<T> = string extends keyof T ? {} : T;

/** The value `defineActor` returns: the actor's contract. Import `typeof Cart`, never its internals. */
export interface ActorDefinition<N extends string, S, D, H, Q, U = never> {
  readonly kind: "actor";
  readonly name: N;
  /** Phantom field carrying the types; it holds nothing at run time. */
  readonly __types?: { readonly state: S; readonly deps: D; readonly handlers: H; readonly queries: Q; readonly updates: U };
}

/** Any actor definition. */
export type AnyActorDefinition = ActorDefinition<string, unknown, unknown, unknown, unknown, unknown>;

/** The type of the live updates a definition publishes (`never` when it declares none). */
export type UpdateOf<A> = A extends ActorDefinition<string, unknown, unknown, unknown, unknown, infer U> ? U : never;

/** The state type of a definition. */
export type StateOf<A> = A extends ActorDefinition<string, infer S, unknown, unknown, unknown, unknown> ? S : never;

type CallArgs<F> = F extends (ctx: never, ...args: infer A) => unknown ? A : never;
type CallResult<F> = F extends (...args: never[]) => infer R ? Promise<Awaited<R>> : never;
type Methods<T> = { readonly [K in keyof T]: (...args: CallArgs<T[K]>) => CallResult<T[K]> };

/**
 * A typed, location-transparent reference to one actor: every handler and query becomes an
 * async method with the same arguments (minus the context) and result.
 * @example
 * ```ts
 * const cart: ActorRef<typeof Cart> = node.ref(Cart, "session-42");
 * const count = await cart.add("sku-1", 2); // number
 * ```
 */
export type ActorRef<A> =
  A extends ActorDefinition<string, unknown, unknown, infer H, infer Q, unknown> ? Methods<KnownKeys<H>> & Methods<KnownKeys<Q>> : never;
