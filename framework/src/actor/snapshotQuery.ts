import type { Logger } from "pino";
import { ArityError, QueryMutationError, TurnEndedError } from "../errors.js";
import { copyValue, firstChange } from "../state/walk.js";
import type { Clock } from "../time/clock.js";
import { callerError } from "./callerError.js";
import type { ActorType, HandlerEntry } from "./defineActor.js";
import type { ActorRef, AnyActorDefinition, DeepReadonly, QueryContext, RefFactory } from "./types.js";

/** What a query run outside an activation needs from its node. */
export interface SnapshotEnv {
  readonly clock: Clock;
  readonly log: Logger;
  readonly refs: RefFactory;
  /** Whether a query that changed its view fails (`createNode({ checkQueries })`). */
  readonly checkQueries: boolean;
}

/** One query to answer from a copy of an actor's state (a hot backup's). */
export interface SnapshotQuery {
  readonly type: ActorType;
  readonly entry: HandlerEntry;
  readonly id: string;
  /** The copy. It is never handed to the query nor changed: the query reads a private copy of it. */
  readonly state: unknown;
  /** Already validated and copied by the caller. */
  readonly args: unknown[];
  /** The resolved `deps` of the actor type (undefined when it declares none). */
  readonly deps: unknown;
}

/**
 * The context of a query answered from a backup copy. Like a query on the owner it offers the
 * state (read-only), deps, the clock, a logger and references; there is no activation behind it,
 * so nothing it does can reach the copy.
 */
class SnapshotContext implements QueryContext<unknown, unknown> {
  open = true;

  constructor(
    private readonly q: SnapshotQuery,
    private readonly view: unknown,
    private readonly env: SnapshotEnv,
  ) {}

  private check(): void {
    if (!this.open) throw new TurnEndedError(this.q.type.name, this.q.id);
  }

  get actorType(): string {
    return this.q.type.name;
  }

  get id(): string {
    return this.q.id;
  }

  get state(): DeepReadonly<unknown> {
    this.check();
    return this.view as DeepReadonly<unknown>;
  }

  get deps(): unknown {
    this.check();
    return this.q.deps;
  }

  now(): Date {
    return new Date(this.env.clock.now());
  }

  get log(): Logger {
    return this.env.log.child({ actor: this.q.type.name, id: this.q.id, from: "backup" });
  }

  ref<A extends AnyActorDefinition>(def: A, id: string): ActorRef<A> {
    this.check();
    return this.env.refs.ref(def, id);
  }
}

/**
 * Runs a query against a copy of an actor's state, with the owner's rules: the arguments'
 * count is checked, the result is validated and copied, a throw becomes `ActorHandlerError`,
 * and a query that changed the state fails with `QueryMutationError`. The query sees a private
 * copy, so the copy itself is never changed — whatever the query does.
 */
export function runSnapshotQuery(q: SnapshotQuery, env: SnapshotEnv): Promise<unknown> {
  const { type, entry, args } = q;
  if (args.length < entry.minArgs || args.length > entry.maxArgs) {
    return Promise.reject(new ArityError(type.name, entry.name, { min: entry.minArgs, max: entry.maxArgs }, args.length));
  }
  let view: unknown;
  try {
    view = copyValue(q.state, "state");
  } catch (error) {
    return Promise.reject(error);
  }
  const ctx = new SnapshotContext(q, view, env);
  const fail = (error: unknown): Error => callerError(type.name, q.id, entry.name, error);
  const mutation = (base: unknown): QueryMutationError | null => {
    if (!env.checkQueries) return null;
    const path = firstChange(view, base, "state");
    return path === null ? null : new QueryMutationError(type.name, entry.name, path);
  };
  const finish = (value: unknown, base: unknown): unknown => {
    ctx.open = false;
    const changed = mutation(base);
    if (changed !== null) throw changed;
    try {
      return copyValue(value, `${type.name}.${entry.name}() result`);
    } catch (error) {
      throw fail(error);
    }
  };
  let out: unknown;
  try {
    out = (entry.fn as (ctx: SnapshotContext, ...a: unknown[]) => unknown)(ctx, ...args);
  } catch (error) {
    ctx.open = false;
    return Promise.reject(mutation(q.state) ?? fail(error));
  }
  if (!isThenable(out)) {
    try {
      return Promise.resolve(finish(out, q.state));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  // An async query: the copy may take new deltas while it waits, so what it started from is
  // kept aside (only for async queries; the synchronous part is checked against the copy now).
  const early = mutation(q.state);
  if (early !== null) {
    ctx.open = false;
    return Promise.reject(early);
  }
  const base = env.checkQueries ? copyValue(q.state, "state") : undefined;
  return Promise.resolve(out).then(
    (value) => finish(value, base),
    (error: unknown) => {
      ctx.open = false;
      throw mutation(base) ?? fail(error);
    },
  );
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}
