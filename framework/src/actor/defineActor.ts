import { ConfigError } from "../errors.js";
import { none, type BackupPolicy } from "../replication/policy.js";
import { toMillis } from "../time/duration.js";
import type { DepsSpec, ResolvedDeps } from "./deps.js";
import { paramCount } from "./paramCount.js";
import type { ActorContext, ActorDefinition, ActorSpec, AnyActorDefinition, Handler, Query, ReadFrom, UpdatesSpec } from "./types.js";

/** A handler or query as the runtime sees it. */
export interface HandlerEntry {
  readonly name: string;
  readonly fn: (ctx: never, ...args: never[]) => unknown;
  /** True for queries: they may share the actor with other queries. */
  readonly readonly: boolean;
  /** Argument counts accepted (excluding the context). */
  readonly minArgs: number;
  readonly maxArgs: number;
}

/** Lifecycle hook as the runtime sees it. */
export type Hook = (ctx: ActorContext<unknown, unknown, unknown>) => void | Promise<void>;

/** Everything the runtime needs about an actor type. Not part of the public API. */
export interface ActorType {
  readonly name: string;
  readonly initialState: (id: string) => unknown;
  readonly handlers: ReadonlyMap<string, HandlerEntry>;
  readonly deps: DepsSpec | undefined;
  readonly backup: BackupPolicy;
  /** Who answers queries: the owner, or a caller holding a hot backup copy. */
  readonly readFrom: ReadFrom;
  /** Whether handlers may publish live updates (`updates` declared). */
  readonly publishes: boolean;
  readonly idleTimeoutMs: number;
  readonly expireAfterMs: number | undefined;
  readonly onActivate: Hook | undefined;
  readonly onDeactivate: Hook | undefined;
}

const TYPE = Symbol("berth.actorType");
const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Names a reference cannot carry: `then` would make every reference a thenable. */
const RESERVED = new Set(["then", "constructor", "toString", "toJSON", "valueOf", "inspect"]);

export const DEFAULT_IDLE_TIMEOUT = "10m";

/**
 * Defines an actor type: its state, the handlers that change it and the queries that read it.
 * The returned value is the actor's contract — pass it to `node.ref(def, id)` for a typed
 * reference, and to `createNode({ actors: [def] })` to host it.
 *
 * @param name unique per cluster; letters, digits, `-` and `_`, starting with a letter
 * @param spec state factory, handlers, queries and options (see `ActorSpec`)
 * @example
 * ```ts
 * export const Cart = defineActor("cart", {
 *   state: () => ({ items: new Map<string, number>() }),
 *   handlers: {
 *     add(ctx, sku: string, qty: number) {
 *       ctx.state.items.set(sku, (ctx.state.items.get(sku) ?? 0) + qty);
 *       return ctx.state.items.size;
 *     },
 *   },
 *   queries: {
 *     count: (ctx) => ctx.state.items.size,
 *   },
 * });
 * ```
 */
export function defineActor<
  const N extends string,
  S,
  H extends Record<string, Handler<S, ResolvedDeps<D>, U>>,
  Q extends Record<string, Query<S, ResolvedDeps<D>>>,
  D extends DepsSpec = {},
  U = never,
>(name: N, spec: ActorSpec<S, D, H, Q, U>): ActorDefinition<N, S, D, H, Q, U> {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new ConfigError(`actor name ${JSON.stringify(name)} must start with a letter and hold only letters, digits, "-" and "_" (at most 64)`);
  }
  if (typeof spec?.state !== "function") throw new ConfigError(`actor "${name}" needs a state factory: state: () => ({ ... })`);
  const handlers = new Map<string, HandlerEntry>();
  addHandlers(name, handlers, spec.handlers, false);
  addHandlers(name, handlers, spec.queries, true);
  const backup = spec.backup ?? none();
  const type: ActorType = {
    name,
    initialState: spec.state,
    handlers,
    deps: spec.deps,
    backup,
    readFrom: checkReadFrom(name, spec.readFrom, backup),
    publishes: checkUpdates(name, spec.updates),
    idleTimeoutMs: toMillis(spec.idleTimeout ?? DEFAULT_IDLE_TIMEOUT, `${name}.idleTimeout`),
    expireAfterMs: spec.expireAfter === undefined ? undefined : toMillis(spec.expireAfter, `${name}.expireAfter`),
    onActivate: spec.onActivate as Hook | undefined,
    onDeactivate: spec.onDeactivate as Hook | undefined,
  };
  return defineType(type) as ActorDefinition<N, S, D, H, Q, U>;
}

/**
 * Declares the type of the live updates an actor publishes, for `defineActor`'s `updates`.
 * @example
 * ```ts
 * type RoomUpdate = { kind: "posted"; from: string; text: string } | { kind: "left"; who: string };
 * const Room = defineActor("room", {
 *   state: () => ({ posts: [] as string[] }),
 *   updates: updates<RoomUpdate>(),
 *   handlers: {
 *     post(ctx, from: string, text: string) {
 *       ctx.state.posts.push(text);
 *       ctx.publish({ kind: "posted", from, text });
 *     },
 *   },
 * });
 * ```
 */
export function updates<U>(): UpdatesSpec<U> {
  return UPDATES;
}

const UPDATES: UpdatesSpec<never> = Object.freeze({ kind: "updates" as const });

/**
 * Validates `readFrom` against the backup policy: reading from backups needs backups that
 * receive every turn, so `none()` (and any policy without `hotBackups`) is a configuration error
 * rather than a silent no-op that would send every query to the owner anyway.
 */
export function checkReadFrom(actor: string, readFrom: unknown, backup: BackupPolicy): ReadFrom {
  if (readFrom === undefined || readFrom === "owner") return "owner";
  if (readFrom !== "backup") throw new ConfigError(`${actor}.readFrom must be "owner" or "backup"; got ${JSON.stringify(readFrom)}`);
  const hot = backup.hotBackups ?? 0;
  if (!Number.isInteger(hot) || hot < 1) {
    throw new ConfigError(
      `${actor}: readFrom: "backup" needs a backup policy that keeps hot backups, but ${backup.name} declares none ` +
        `(hotBackups: ${String(backup.hotBackups ?? 0)}); use sync({ backups: 1 }) or async(), or declare hotBackups on your custom policy`,
    );
  }
  return "backup";
}

function checkUpdates(actor: string, spec: unknown): boolean {
  if (spec === undefined) return false;
  if (spec !== UPDATES) throw new ConfigError(`${actor}.updates must be made by updates<YourUpdate>(); got ${JSON.stringify(spec)}`);
  return true;
}

/** Wraps a runtime actor type in a definition value. Used by `defineActor` and `defineMachineActor`. */
export function defineType(type: ActorType): AnyActorDefinition {
  const def = { kind: "actor" as const, name: type.name, [TYPE]: type };
  return Object.freeze(def);
}

function addHandlers(actor: string, into: Map<string, HandlerEntry>, fns: object | undefined, readonly: boolean): void {
  if (fns === undefined) return;
  for (const [hname, fn] of Object.entries(fns)) {
    if (typeof fn !== "function") throw new ConfigError(`${actor}.${hname} must be a function`);
    if (RESERVED.has(hname) || hname.startsWith("$") || hname.startsWith("__")) {
      throw new ConfigError(`${actor}.${hname}: the name "${hname}" is reserved; choose another handler name`);
    }
    if (into.has(hname)) throw new ConfigError(`${actor}.${hname} is declared both as a handler and as a query`);
    const { min, max } = paramCount(fn as (...args: never[]) => unknown);
    into.set(hname, {
      name: hname,
      fn: fn as HandlerEntry["fn"],
      readonly,
      minArgs: Math.max(0, min - 1),
      maxArgs: Math.max(0, max - 1),
    });
  }
}

/** The runtime side of a definition. Throws a clear error for anything that is not one. */
export function actorType(def: AnyActorDefinition): ActorType {
  const type = (def as unknown as { [TYPE]?: ActorType })?.[TYPE];
  if (type === undefined) {
    throw new ConfigError(`expected an actor definition made by defineActor(), got ${typeof def === "object" ? JSON.stringify(def) : String(def)}`);
  }
  return type;
}
