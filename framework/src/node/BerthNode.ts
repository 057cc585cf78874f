import { randomUUID } from "node:crypto";
import "reflect-metadata";
import { container as rootContainer, type DependencyContainer } from "tsyringe";
import type { Activation } from "../actor/Activation.js";
import { ActorHost, type HostHooks, type HostStats } from "../actor/ActorHost.js";
import { actorType, type ActorType } from "../actor/defineActor.js";
import { makeRef, type CallSink } from "../actor/refs.js";
import type { ActorRef, ActorUpdate, AnyActorDefinition, RefFactory, UpdateOf, Watch } from "../actor/types.js";
import { ConfigError, NodeStoppedError, SelfCallError } from "../errors.js";
import { partitionOf } from "../placement/partition.js";
import { copyArgs } from "../state/walk.js";
import { systemClock, type Clock } from "../time/clock.js";
import { toMillis, type Duration } from "../time/duration.js";
import { createLogger, type Logger } from "./logger.js";
import { renderExposition, type Labels, type MetricFamily } from "../metrics/exposition.js";
import { hostFamilies } from "./nodeMetrics.js";
import { UpdateHub } from "./UpdateHub.js";

/** Options shared by every kind of node. */
export interface NodeOptions {
  /** Unique node id. Default: a random one. */
  id?: string;
  /** The actor types this node hosts. */
  actors: readonly AnyActorDefinition[];
  /** Registers services in the node's root container (a child of tsyringe's global one). */
  providers?: (container: DependencyContainer) => void;
  /** The container the node's root container is a child of. Default: tsyringe's global container. */
  container?: DependencyContainer;
  /** Time source. Default: the system clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** A pino logger, or a level for the default one. */
  logger?: Logger | string;
  /** Passivate least-recently-used actors beyond this many. Default 1,000,000. */
  maxActiveActors?: number;
  /** How long a call may take, waiting included. Default `"30s"`. */
  callTimeout?: Duration;
  /** Check after every query that it left the state unchanged. Default true. */
  checkQueries?: boolean;
  /** How long outcomes of remote calls are kept so a retry never runs twice. Default `"30s"`. */
  dedupWindow?: Duration;
  /** Number of partitions; a cluster-wide constant. Default 1024. */
  partitions?: number;
}

/** What `node.stats()` reports. */
export interface NodeStats extends HostStats {
  readonly nodeId: string;
  readonly types: readonly string[];
}

/** Default number of partitions (cluster-wide constant). */
export const DEFAULT_PARTITIONS = 1024;

/**
 * A Berth node: hosts actors, and (in a cluster) routes calls to whichever node owns them.
 * Create one with `createNode`; in tests use `createTestNode` from `berth/testing`.
 */
export class BerthNode implements RefFactory, CallSink {
  readonly id: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly container: DependencyContainer;
  readonly partitions: number;
  protected readonly host: ActorHost;
  /** Live updates: this node's watchers, and (in a cluster) the link to the other nodes. */
  protected readonly updates: UpdateHub;
  protected readonly callTimeoutMs: number;
  protected stopped = false;

  constructor(options: NodeOptions, hooks?: HostHooks) {
    this.id = options.id ?? `node-${randomUUID().slice(0, 8)}`;
    this.clock = options.clock ?? systemClock;
    this.log = typeof options.logger === "object" ? options.logger : createLogger({ level: options.logger, bindings: { node: this.id } });
    this.container = (options.container ?? rootContainer).createChildContainer();
    options.providers?.(this.container);
    this.partitions = options.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(this.partitions) || this.partitions < 1 || this.partitions > 65536) {
      throw new ConfigError(`partitions must be an integer from 1 to 65536; got ${options.partitions}`);
    }
    this.callTimeoutMs = toMillis(options.callTimeout ?? "30s", "callTimeout");
    const types = uniqueTypes(options.actors);
    const partitions = this.partitions;
    const updates = (this.updates = new UpdateHub(this.log));
    const hostHooks: HostHooks = hooks ?? {};
    hostHooks.published = (type, id, source, first, packed) => updates.publish(type.name, id, source, first, packed);
    this.host = new ActorHost(types, {
      clock: this.clock,
      log: this.log,
      container: this.container,
      refs: this,
      partitionOf: (id) => partitionOf(id, partitions),
      maxActiveActors: options.maxActiveActors ?? 1_000_000,
      callTimeoutMs: this.callTimeoutMs,
      checkQueries: options.checkQueries ?? true,
      dedupWindowMs: toMillis(options.dedupWindow ?? "30s", "dedupWindow"),
      hooks: hostHooks,
    });
  }

  /**
   * Watches the live updates of one actor (`ctx.publish` in its handlers), wherever it lives:
   * `listener` is called with each update a turn of the actor published, once that turn
   * committed and its backup policy confirmed it. Delivery is live and at most once: an update
   * published while nobody watched is not replayed, and `update.missed` tells when some may have
   * been lost in between (re-read the state then). The actor need not be active: watching does
   * not activate it. See docs/guides/live-updates.md.
   * @example
   * ```ts
   * const watch = node.watch(Room, "lobby-7", (u) => {
   *   if (u.missed) void refresh();
   *   show(u.data);
   * });
   * // … later
   * watch.stop();
   * ```
   */
  watch<A extends AnyActorDefinition>(def: A, id: string, listener: (update: ActorUpdate<UpdateOf<A>>) => void): Watch {
    const type = actorType(def);
    if (typeof id !== "string" || id.length === 0 || id.length > 256) {
      throw new ConfigError(`actor id must be a non-empty string of at most 256 characters; got ${JSON.stringify(id)}`);
    }
    if (typeof listener !== "function") throw new ConfigError("watch needs a listener function: node.watch(Type, id, (update) => …)");
    if (!type.publishes) throw new ConfigError(`${type.name} declares no live updates (updates: updates<YourUpdate>() in its defineActor): there is nothing to watch`);
    if (this.stopped) throw new NodeStoppedError(this.id);
    return this.updates.watch(type.name, id, listener as (update: ActorUpdate<unknown>) => void);
  }

  /**
   * A typed reference to an actor. Calls go wherever the actor lives.
   * @example
   * ```ts
   * const cart = node.ref(Cart, "session-42");
   * await cart.add("sku-1", 2);
   * ```
   */
  ref<A extends AnyActorDefinition>(def: A, id: string, caller?: Activation): ActorRef<A> {
    if (typeof id !== "string" || id.length === 0 || id.length > 256) {
      throw new ConfigError(`actor id must be a non-empty string of at most 256 characters; got ${JSON.stringify(id)}`);
    }
    return makeRef<A>(this, actorType(def), id, caller);
  }

  /** Routes one call. Used by references; validates and copies the arguments. */
  call(type: ActorType, id: string, method: string, args: unknown[], caller: Activation | undefined): Promise<unknown> {
    if (this.stopped) return Promise.reject(new NodeStoppedError(this.id));
    if (caller !== undefined && caller.type.name === type.name && caller.id === id) {
      return Promise.reject(new SelfCallError(type.name, id));
    }
    let copied: unknown[];
    try {
      copied = copyArgs(args, `${type.name}.${method}() args`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.host.invoke(type.name, id, method, copied, 0);
  }

  /**
   * Runs a call on this node. Validates the actor type and handler by name, so it is also
   * the entry point for untyped callers (the wire, HTTP bindings).
   * @param deadline ms since the epoch; 0 for the node's call timeout
   */
  dispatch(typeName: string, id: string, method: string, args: unknown[], deadline: number): Promise<unknown> {
    return this.host.invoke(typeName, id, method, args, deadline);
  }

  /** Counts of actors, activations, passivations and timers on this node. */
  stats(): NodeStats {
    return { nodeId: this.id, types: this.host.typeNames(), ...this.host.stats() };
  }

  /**
   * This node's figures in the Prometheus text format (version 0.0.4): `# HELP` and `# TYPE` per
   * metric, counters ending in `_total`, durations in seconds, every sample labelled with
   * `node` (and `cluster` on a cluster node). Every metric is described in docs/guides/metrics.md.
   * `berth node --metrics <port>` serves it on `GET /metrics`; HTTP nodes also on `/_berth/metrics`.
   * @example
   * ```ts
   * import { createServer } from "node:http";
   * createServer((req, res) => {
   *   res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
   *   res.end(node.metrics());
   * }).listen(9464);
   * ```
   */
  metrics(): string {
    return renderExposition(this.metricFamilies(), this.metricLabels());
  }

  /** The metric families `metrics()` renders. */
  protected metricFamilies(): MetricFamily[] {
    return hostFamilies(this.stats());
  }

  /** The labels on every sample of `metrics()`. */
  metricLabels(): Labels {
    return { node: this.id };
  }

  /** Passivates every idle actor now (their state is kept). Mostly for tests. */
  passivateAll(): Promise<number> {
    return this.host.passivateAll();
  }

  /** Stops the node: waiting calls fail with `NodeStoppedError`, timers stop. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.host.stop(this.id);
    this.updates.close();
  }
}

function uniqueTypes(defs: readonly AnyActorDefinition[]): ActorType[] {
  if (!Array.isArray(defs)) throw new ConfigError("createNode needs actors: [...] — the actor definitions this node hosts");
  const byName = new Map<string, ActorType>();
  for (const def of defs) {
    const type = actorType(def);
    const existing = byName.get(type.name);
    if (existing !== undefined && existing !== type) {
      throw new ConfigError(`two different actor definitions are named "${type.name}"; actor names must be unique`);
    }
    byName.set(type.name, type);
  }
  return [...byName.values()];
}
