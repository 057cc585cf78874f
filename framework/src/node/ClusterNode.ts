import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Activation } from "../actor/Activation.js";
import { makeCallId } from "../actor/callIds.js";
import type { ActorType } from "../actor/defineActor.js";
import type { HostHooks } from "../actor/ActorHost.js";
import type { ActorEntry } from "../actor/record.js";
import { MAX_EPOCH } from "../membership/codec.js";
import { ConfigError, DeadlineExceededError, MalformedMessageError, NodeStoppedError, NodeUnreachableError, NotOwnerError, ReplicationError, SelfCallError } from "../errors.js";
import { PartitionManager, type MoveStats } from "../migration/PartitionManager.js";
import { BackupStore } from "../replication/BackupStore.js";
import { answerReadMark, BackupReader, type BackupReadStats } from "../replication/BackupReader.js";
import type { ReplReply } from "../replication/items.js";
import { decodeItems } from "../replication/itemWire.js";
import { openEventLog, type EventLog } from "../replication/log/index.js";
import { Replicator, type ReplicationStats } from "../replication/Replicator.js";
import { sendControl, sendControlItems, type ControlMessage } from "../transport/control.js";
import { Membership, type MembershipTiming } from "../membership/Membership.js";
import { NatsDirectory, NatsViewStore } from "../membership/NatsStores.js";
import type { NodeRecord, NodeRecordStats, Role, View } from "../membership/types.js";
import { computeTable, partitionOf, type PartitionTable } from "../placement/index.js";
import { connectNats, type NatsOptions } from "../transport/nats/connectNats.js";
import { NatsTransport } from "../transport/nats/NatsTransport.js";
import { sendCall, sendCallWith, serveCalls, type RpcCounters } from "../transport/rpc.js";
import { WIRE_PROTOCOL, type CallRequest } from "../transport/wire.js";
import { copyArgs } from "../state/walk.js";
import { BerthNode, type NodeOptions, type NodeStats } from "./BerthNode.js";
import type { Labels, MetricFamily } from "../metrics/exposition.js";
import { clusterFamilies, hostFamilies } from "./nodeMetrics.js";
import { Rate } from "../metrics/Rate.js";
import { toMillis, type Duration } from "../time/duration.js";

/** Options of a node that joins a cluster on NATS. */
export interface ClusterNodeOptions extends NodeOptions {
  /** How to reach NATS. */
  nats: NatsOptions;
  /** Cluster name; nodes with the same name on the same NATS form one cluster. Default `"berth"`. */
  cluster?: string;
  /** Default `["worker"]`. Gateways route calls and host no actors. */
  roles?: Role[];
  /** Relative weight in placement. Default 1. */
  capacity?: number;
  /** Backups per partition. Default 1. */
  backups?: number;
  /** Bounded-load factor of placement (see docs/architecture.md#placement). */
  loadFactor?: number;
  /** Failure detection and lease timing. */
  membership?: Partial<MembershipTiming>;
  /** The HTTP address this node serves, published in its record. */
  httpAddress?: string;
  /**
   * Partitions this node pulls from their previous owners at once (the move rate limit).
   * Recoveries of a dead owner's partitions are not limited (they move no bulk data), except
   * when one finds a live holder and pulls from it. Default 64.
   */
  moveConcurrency?: number;
  /** How long a graceful stop waits for its partitions to move before leaving anyway. Default `"20s"`. */
  shutdownTimeout?: Duration;
  /** Whether to open the JetStream event log (needed by `sync({ log: true })`). Default true. */
  eventLog?: boolean;
}

/** Cluster counters added to `stats()`. */
export interface ClusterStats extends NodeStats {
  readonly epoch: number;
  readonly state: string;
  readonly members: number;
  readonly partitionsOwned: number;
  readonly leaseValid: boolean;
  readonly rpc: RpcCounters & { retries: number; redirects: number };
  readonly replication: ReplicationStats & { backupCopies: number };
  readonly moves: MoveStats;
  /** Queries of `readFrom: "backup"` types this node answered from its hot copies, or sent to the owner. */
  readonly backupReads: BackupReadStats;
}

const CLUSTER_RE = /^[A-Za-z0-9_-]{1,32}$/;
/** A single remote attempt waits at most this long; the call retries (same id) until its deadline. */
const ATTEMPT_MS = 2_500;
/** How long a node removed from the view while alive keeps what it held, as stale copies (see BackupStore.demote). */
const STALE_COPIES_MS = 60_000;

/**
 * A node in a cluster: it joins the view on NATS, owns the partitions the table gives it, and
 * routes every call to the owner of the actor's partition — locally without touching NATS,
 * remotely over one multiplexed request/reply subscription, with redirects and retries under
 * the call's deadline. Create it with `createNode({ nats: { servers } , ... })`.
 */
export class ClusterNode extends BerthNode {
  readonly cluster: string;
  readonly roles: readonly Role[];
  readonly nc: NatsConnection;
  readonly transport: NatsTransport;
  readonly membership: Membership;
  /** The table of the current view, or an empty one while no worker is up. */
  private table: PartitionTable;
  private readonly viewWaiters = new Set<() => void>();
  private readonly fatalListeners = new Set<(error: Error) => void>();
  private callSeq = 0;
  /** Calls run on this node (local and served for others). */
  private callsRun = 0;
  private readonly deltaRate = new Rate();
  private readonly byteRate = new Rate();
  private readonly callRate = new Rate();
  readonly rpcCounters: RpcCounters & { retries: number; redirects: number } = { served: 0, malformed: 0, control: 0, retries: 0, redirects: 0 };
  private readonly directory: NatsDirectory;
  private readonly views: NatsViewStore;
  private recordCache = new Map<string, NodeRecord>();
  /** Members whose records said they speak another protocol, by id → the incarnation warned about (once each). */
  private readonly protocolWarned = new Map<string, string>();
  private recordTimer: NodeJS.Timeout | undefined;
  private readonly viewListeners = new Set<(view: View) => void>();
  readonly backups = new BackupStore();
  readonly replicator: Replicator;
  readonly partitionManager: PartitionManager;
  private readonly backupReader: BackupReader;
  /** Actor types whose queries may be answered from a hot backup copy (`readFrom: "backup"`). */
  private readonly backupReadTypes = new Map<string, ActorType>();
  private eventLogHandle: EventLog | null = null;
  private readonly shutdownTimeoutMs: number;
  private housekeeping: NodeJS.Timeout | undefined;
  /** Backup partitions this node no longer backs up, with when that was first seen. */
  private readonly strayBackups = new Map<number, number>();

  private constructor(
    options: ClusterNodeOptions,
    parts: { nc: NatsConnection; cluster: string; views: NatsViewStore; directory: NatsDirectory; id: string },
  ) {
    // The host calls these hooks; they reach the parts built below.
    const hooks: HostHooks = {};
    super({ ...options, id: parts.id }, hooks);
    this.shutdownTimeoutMs = toMillis(options.shutdownTimeout ?? "20s", "shutdownTimeout");
    this.cluster = parts.cluster;
    this.roles = options.roles ?? ["worker"];
    this.nc = parts.nc;
    this.views = parts.views;
    this.directory = parts.directory;
    this.transport = new NatsTransport(parts.nc, this.id, this.cluster);
    const transport = this.transport;
    this.updates.connect({
      publish: (topic, frame) => transport.publish(topic, frame),
      subscribe: (topic, onFrame) => transport.subscribe(topic, onFrame),
      get maxPayload() {
        return transport.maxPayload;
      },
    });
    const placement = { partitions: this.partitions, backups: options.backups ?? 1, ...(options.loadFactor !== undefined ? { loadFactor: options.loadFactor } : {}) };
    this.table = computeTable({ epoch: 0, members: [] }, placement);
    this.membership = new Membership({
      self: {
        id: this.id,
        roles: this.roles,
        capacity: options.capacity ?? 1,
        incarnation: randomUUID().slice(0, 12),
        pid: process.pid,
        host: hostname(),
        started: Date.now(),
        ...(options.httpAddress !== undefined ? { http: options.httpAddress } : {}),
      },
      transport: this.transport,
      views: this.views,
      directory: this.directory,
      clock: this.clock,
      log: this.log,
      ...(options.membership !== undefined ? { timing: options.membership } : {}),
      placement,
      stats: () => this.recordStats(),
    });
    this.replicator = new Replicator({
      selfId: this.id,
      log: this.log,
      sendItems: (target, head, items, timeoutMs) => sendControlItems(this.transport, target, head, items, timeoutMs, this.transport.maxPayload, this.countReplicated),
      maxPayload: () => this.transport.maxPayload,
      table: () => this.membership.table,
      epoch: () => this.view.epoch,
      ownershipEpoch: (p) => this.partitionManager.ownershipEpoch(p),
      leaseValid: () => this.membership.leaseValid(),
      recordOf: (type, id) => this.host.recordOf(type, id),
      eventLog: () => this.eventLogHandle,
    });
    this.partitionManager = new PartitionManager({
      selfId: this.id,
      partitions: this.partitions,
      log: this.log,
      host: this.host,
      replicator: this.replicator,
      backups: this.backups,
      eventLog: () => this.eventLogHandle,
      view: () => this.view,
      table: () => this.membership.table,
      sendControl: this.sendControl,
      reconcile: () => this.membership.reconcile(),
      ...(options.moveConcurrency !== undefined ? { moveConcurrency: options.moveConcurrency } : {}),
    });
    this.backupReader = new BackupReader({
      selfId: this.id,
      log: this.log,
      backups: this.backups,
      container: this.container,
      env: { clock: this.clock, log: this.log, refs: this, checkQueries: this.host.checkQueries },
      epoch: () => this.view.epoch,
      leaseValid: () => this.membership.leaseValid(),
      idle: (p) => this.partitionManager.state(p) === "idle",
      sendControl: this.sendControl,
      reconcile: () => this.membership.reconcile(),
    });
    for (const name of this.host.typeNames()) {
      const type = this.host.slotOf(name);
      if (type?.readFrom === "backup") this.backupReadTypes.set(name, type);
    }
    hooks.committed = (turn) => this.replicator.committed(turn);
    hooks.reconfirm = (act) => this.replicator.reconfirm(act);
    hooks.canRun = (p) => this.partitionManager.canRun(p);
    hooks.destroyed = (type, id, p, seq) => this.replicator.destroyedPassive(type, id, p, seq);
    this.membership.onView((view) => this.onView(view));
    this.membership.onLease((valid) => {
      if (!valid) this.replicator.leaseLost();
    });
    this.membership.onConflict((error) => {
      void this.crash().finally(() => {
        for (const fn of this.fatalListeners) fn(error);
      });
    });
  }

  /**
   * Calls `fn` when this node stopped on its own and serves nothing any more: another process
   * with the same node id took its place in the cluster view (two processes started with one
   * id at once; the one that starts second refuses to, with a `ConfigError`). `berth node`
   * exits with status 1.
   * @example
   * ```ts
   * node.onFatal((err) => { console.error(err.message); process.exit(1); });
   * ```
   */
  onFatal(fn: (error: Error) => void): () => void {
    this.fatalListeners.add(fn);
    return () => this.fatalListeners.delete(fn);
  }

  /** Connects to NATS, joins the cluster, and starts serving. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const cluster = options.cluster ?? "berth";
    if (!CLUSTER_RE.test(cluster)) throw new ConfigError(`cluster name must be 1-32 letters, digits, "-" or "_"; got ${JSON.stringify(cluster)}`);
    const id = options.id ?? `node-${randomUUID().slice(0, 8)}`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new ConfigError(`node id must be 1-64 letters, digits, "-" or "_"; got ${JSON.stringify(id)}`);
    const log = typeof options.logger === "object" ? options.logger : undefined;
    const tmpLog = log ?? (await import("./logger.js")).createLogger({ level: typeof options.logger === "string" ? options.logger : undefined, bindings: { node: id } });
    // A node may start before NATS does: it waits for a server, saying why it cannot connect.
    const nc = await connectNats({ ...options.nats, name: options.nats.name ?? `berth:${cluster}:${id}` }, { waitForServers: { log: tmpLog } });
    try {
      const [views, directory] = await Promise.all([NatsViewStore.open(nc, cluster, tmpLog), NatsDirectory.open(nc, cluster, tmpLog)]).catch((error: unknown) => {
        // Berth keeps the view, the node records and the event log in JetStream.
        if (error instanceof Error && /jetstream (is )?not enabled|JetStreamNotEnabled/i.test(error.message)) {
          throw new ConfigError(`JetStream is not enabled on the NATS server at ${nc.getServer()}: Berth keeps its cluster view, node records and event log in JetStream. Start nats-server with -js (or add a jetstream {} block to its config).`);
        }
        throw error;
      });
      const node = new ClusterNode({ ...options, logger: tmpLog }, { nc, cluster, views, directory, id });
      if (options.eventLog !== false && node.isWorker) {
        try {
          node.eventLogHandle = await openEventLog(nc, { cluster, log: node.log });
        } catch (err) {
          node.log.warn({ err }, "could not open the event log: sync({ log: true }) writes will fail and recovery uses backups only");
        }
      }
      serveCalls(node.transport, (req) => node.serveRemote(req), {
        log: node.log,
        counters: node.rpcCounters,
        maxPayload: node.transport.maxPayload,
        control: (msg) => node.serveControl(msg),
      });
      await node.membership.start();
      node.onView(node.membership.current);
      await node.refreshRecords();
      node.recordTimer = setInterval(() => void node.refreshRecords(), 2_000);
      node.recordTimer.unref();
      node.housekeeping = setInterval(() => node.dropStrayBackups(), 10_000);
      node.housekeeping.unref();
      return node;
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /** The current view. */
  get view(): View {
    return this.membership.current;
  }

  /** The partition table of the current view. */
  get partitionTable(): PartitionTable {
    return this.table;
  }

  get isWorker(): boolean {
    return this.roles.includes("worker");
  }

  /**
   * Where an actor lives in the current view: its partition and the id of the node that owns
   * it (null while no worker is up).
   * @example const { owner } = node.locate("session-42"); // "node-2"
   */
  locate(actorId: string): { partition: number; owner: string | null; epoch: number } {
    const partition = partitionOf(actorId, this.partitions);
    return { partition, owner: this.ownerOf(partition), epoch: this.view.epoch };
  }

  /** Node records (role, pid, HTTP address…) by id, refreshed every 2 s and on view changes. */
  records(): ReadonlyMap<string, NodeRecord> {
    return this.recordCache;
  }

  /** Calls `fn` after every view change. Returns the unsubscribe function. */
  onViewChange(fn: (view: View) => void): () => void {
    this.viewListeners.add(fn);
    return () => this.viewListeners.delete(fn);
  }

  private async refreshRecords(): Promise<void> {
    try {
      this.recordCache = new Map((await this.directory.list()).map((r) => [r.id, r]));
    } catch (err) {
      this.log.debug({ err }, "could not refresh node records");
      return;
    }
    for (const r of this.recordCache.values()) {
      if (r.protocol === WIRE_PROTOCOL || r.state === "down" || this.protocolWarned.get(r.id) === r.incarnation) continue;
      this.protocolWarned.set(r.id, r.incarnation);
      this.log.error(
        { member: r.id, memberProtocol: r.protocol, protocol: WIRE_PROTOCOL },
        `node ${r.id} speaks inter-node protocol ${r.protocol} and this node ${WIRE_PROTOCOL}: calls and replication between them fail. Run every node of a cluster on one Berth version (stop the old ones, then start the new)`,
      );
    }
  }

  override call(type: ActorType, id: string, method: string, args: unknown[], caller: Activation | undefined): Promise<unknown> {
    if (this.stopped) return Promise.reject(new NodeStoppedError(this.id));
    if (caller !== undefined && caller.type.name === type.name && caller.id === id) return Promise.reject(new SelfCallError(type.name, id));
    let copied: unknown[];
    try {
      copied = copyArgs(args, `${type.name}.${method}() args`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.route(type.name, id, method, copied, Date.now() + this.callTimeoutMs);
  }

  override dispatch(typeName: string, id: string, method: string, args: unknown[], deadline: number): Promise<unknown> {
    return this.route(typeName, id, method, args, deadline === 0 ? Date.now() + this.callTimeoutMs : deadline);
  }

  /**
   * Sends a call to the owner of the actor's partition. The first attempt runs without any
   * async machinery (it is the hot path); a redirect, an unreachable owner or a lost reply
   * continues in `routeRetry`, with the same call id, until the deadline.
   */
  private route(typeName: string, id: string, method: string, args: unknown[], deadline: number): Promise<unknown> {
    const partition = partitionOf(id, this.partitions);
    if (!this.stopped) {
      const admission = this.partitionManager.admit(partition);
      if (admission === "run" && this.membership.leaseValid()) {
        // A replicated actor's call carries an id even here: if the lease lapses before its
        // backups confirm, the retry on the successor must be recognised as the same call.
        const localId = this.host.slotOf(typeName)?.backup.replicates === true ? this.nextCallId() : undefined;
        return this.runHere(partition, typeName, id, method, args, deadline, localId).catch(async (error: unknown) => {
          if (!(error instanceof NotOwnerError) && !(error instanceof ReplicationError)) throw error;
          if (error instanceof ReplicationError) await this.retryAfter(error, deadline);
          return this.routeRetry(typeName, id, method, args, deadline, partition, localId);
        });
      }
      const owner = admission === "elsewhere" ? this.ownerOf(partition) : null;
      if (owner !== null && owner !== this.id) {
        const readable = this.backupReadTypes.size > 0 ? this.backupReadTypes.get(typeName) : undefined;
        const entry = readable?.handlers.get(method);
        if (readable !== undefined && entry?.readonly === true) {
          return this.backupReader.read(readable, entry, id, partition, owner, args, () => this.sendFirst(owner, typeName, id, method, args, deadline, partition));
        }
        return this.sendFirst(owner, typeName, id, method, args, deadline, partition);
      }
    }
    return this.routeRetry(typeName, id, method, args, deadline, partition, undefined);
  }

  /** The first attempt at a remote owner; failures continue in `routeRetry` with the same call id. */
  private sendFirst(owner: string, typeName: string, id: string, method: string, args: unknown[], deadline: number, partition: number): Promise<unknown> {
    const callId = this.nextCallId();
    const req: CallRequest = { callId, actorType: typeName, actorId: id, method, args, ttlMs: Math.min(deadline - Date.now(), ATTEMPT_MS), epoch: this.view.epoch, from: this.id };
    if (req.ttlMs <= 0) return this.routeRetry(typeName, id, method, args, deadline, partition, undefined);
    return new Promise((resolve, reject) =>
      sendCallWith(this.transport, owner, req, this.transport.maxPayload, resolve, (error: unknown) =>
        this.retryAfter(error, deadline)
          .then(() => this.routeRetry(typeName, id, method, args, deadline, partition, callId))
          .then(resolve, reject),
      ),
    );
  }

  /** Sends a control message to another node (moves, recovery, read marks). */
  private readonly sendControl = (target: string, msg: ControlMessage, timeoutMs: number): Promise<unknown> => sendControl(this.transport, target, msg, timeoutMs, this.transport.maxPayload);

  /** Counts the encoded bytes of replication messages as the transport sends them. */
  private readonly countReplicated = (bytes: number): void => {
    this.replicator.stats.bytes += bytes;
  };

  /** Runs a call on this node, counted as in flight for its partition (a move waits for it). */
  private runHere(partition: number, typeName: string, id: string, method: string, args: unknown[], deadline: number, callId: string | undefined): Promise<unknown> {
    const pm = this.partitionManager;
    this.callsRun++;
    pm.begin(partition);
    return this.host.invoke(typeName, id, method, args, deadline, callId).then(
      (result) => {
        pm.end(partition);
        return result;
      },
      (error: unknown) => {
        pm.end(partition);
        throw error;
      },
    );
  }

  /** Whether a failed attempt may be retried; waits as appropriate first. Rethrows otherwise. */
  private async retryAfter(error: unknown, deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (error instanceof NotOwnerError) {
      this.rpcCounters.redirects++;
      if (error.epoch > this.view.epoch) await this.membership.reconcile();
      else await this.waitForView(Math.min(remaining, 25));
      return;
    }
    if (error instanceof NodeUnreachableError) return this.waitForView(Math.min(remaining, 25));
    // The owner committed but lost its lease before the backups confirmed: its successor has
    // the turn (and its call id) or not at all. Retrying with the same id settles which.
    if (error instanceof ReplicationError && remaining > 0) return this.waitForView(Math.min(remaining, 250));
    // No reply within the attempt: the owner may be frozen or the reply lost. Retry with the
    // same id; the owner runs a writing call at most once.
    if (error instanceof DeadlineExceededError && error.target !== undefined) {
      if (remaining > 0) return;
      // Out of time: the caller's deadline is what passed, not the last attempt's share of it.
      throw new DeadlineExceededError(this.callTimeoutMs, `the last attempt had no reply from ${error.target}`);
    }
    throw error;
  }

  /** The retry loop of `route`. */
  private async routeRetry(typeName: string, id: string, method: string, args: unknown[], deadline: number, partition: number, firstCallId: string | undefined): Promise<unknown> {
    let callId = firstCallId;
    let backoff = 10;
    for (;;) {
      if (this.stopped) throw new NodeStoppedError(this.id);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new DeadlineExceededError(this.callTimeoutMs, `routing ${typeName}/${id} (partition ${partition})`);
      this.rpcCounters.retries++;
      const admission = this.partitionManager.admit(partition);
      if (admission === "run" && this.membership.leaseValid()) {
        try {
          return await this.runHere(partition, typeName, id, method, args, deadline, callId);
        } catch (error) {
          if (error instanceof ReplicationError) await this.retryAfter(error, deadline);
          else if (error instanceof NotOwnerError) await this.waitForView(Math.min(deadline - Date.now(), 5));
          else throw error;
          continue;
        }
      }
      if (admission === "hold") {
        // The partition is moving or recovering here: wait for it.
        await this.partitionManager.hold(partition, Math.min(remaining, 250));
        continue;
      }
      if (admission === "run") {
        // Served here, but the lease lapsed (NATS has not confirmed a heartbeat): wait for it to
        // come back or for a view without this node. With a timer: `hold` returns at once for a
        // serving partition, and a loop of microtasks would starve the event loop — the very
        // heartbeats that renew the lease, every other call, HTTP — until the call's deadline.
        await this.waitForView(Math.min(remaining, 50));
        continue;
      }
      const owner = this.ownerOf(partition);
      if (owner === null) {
        await this.waitForView(Math.min(remaining, 250));
        continue;
      }
      if (owner === this.id) {
        // Ours in the view but not serving yet: the acquisition is about to start.
        await this.pause(Math.min(remaining, (backoff = Math.min(backoff * 2, 50))));
        continue;
      }
      callId ??= this.nextCallId();
      const req: CallRequest = { callId, actorType: typeName, actorId: id, method, args, ttlMs: Math.min(remaining, ATTEMPT_MS), epoch: this.view.epoch, from: this.id };
      try {
        return await sendCall(this.transport, owner, req, this.transport.maxPayload);
      } catch (error) {
        await this.retryAfter(error, deadline);
        backoff = Math.min(backoff * 2, 250);
        if (!(error instanceof DeadlineExceededError)) await this.waitForView(Math.min(deadline - Date.now(), backoff));
      }
    }
  }

  /** Call ids: unique per node incarnation, cheap to make. */
  private nextCallId(): string {
    return makeCallId(this.membership.self.incarnation, this.callSeq++, Date.now());
  }

  /** Runs a call that arrived from another node, if this node owns the actor. */
  private serveRemote(req: CallRequest): Promise<unknown> {
    // A caller with a newer view than ours: catch up before deciding who owns what.
    if (req.epoch > this.view.epoch) return this.membership.reconcile().then(() => this.serveOwned(req));
    return this.serveOwned(req);
  }

  private serveOwned(req: CallRequest): Promise<unknown> {
    const partition = partitionOf(req.actorId, this.partitions);
    const admission = this.partitionManager.admit(partition);
    if (admission === "run" && this.membership.leaseValid()) {
      let args: unknown[];
      try {
        args = copyArgs(req.args, `${req.actorType}.${req.method}() args`);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.runHere(partition, req.actorType, req.actorId, req.method, args, Date.now() + req.ttlMs, req.callId);
    }
    if (admission === "hold" && req.ttlMs > 50) {
      // Moving or recovering here: hold the call (bounded), then decide again.
      const started = Date.now();
      return this.partitionManager.hold(partition, Math.min(req.ttlMs - 50, 1_000)).then(() => this.serveOwned({ ...req, ttlMs: req.ttlMs - (Date.now() - started) }));
    }
    const owner = this.ownerOf(partition);
    return Promise.reject(new NotOwnerError(partition, this.view.epoch, owner !== this.id ? owner : null));
  }

  /** Control messages from other nodes: replication to this node's backups, and moves. */
  private async serveControl(msg: ControlMessage): Promise<unknown> {
    switch (msg.op) {
      case "repl":
        return this.onReplicate(msg);
      case "pull":
      case "done":
        return this.partitionManager.handleControl(msg);
      case "readMark":
        return answerReadMark(msg, { epoch: () => this.view.epoch, leaseValid: () => this.membership.leaseValid(), lagTo: (target) => this.replicator.lagTo(target) });
      default:
        throw new MalformedMessageError(`unknown control operation ${JSON.stringify(msg.op)}`);
    }
  }

  /** Applies replicated deltas to this node's hot backup copies, from current members only. */
  private async onReplicate(msg: ControlMessage): Promise<unknown> {
    if (typeof msg.from !== "string" || typeof msg.e !== "number") throw new MalformedMessageError("replication needs from and e");
    if (!Number.isSafeInteger(msg.e) || msg.e < 0 || msg.e > MAX_EPOCH) throw new MalformedMessageError(`replication epoch must be an integer from 0 to ${MAX_EPOCH}`);
    const items = decodeItems(msg.items, this.partitions);
    if (msg.e > this.view.epoch) await this.membership.reconcile();
    // A node declared down (failover) is no longer a member: its late writes are refused here,
    // so it can never collect the acknowledgements it would need to answer its callers.
    if (!this.view.members.some((m) => m.id === msg.from)) return { needFull: [], rejected: "not-a-member" } satisfies ReplReply;
    // Items of partitions this node serves itself are acknowledged, not applied: it holds newer state.
    const mine = items.filter((it) => this.partitionManager.state(it.p) !== "serving");
    return this.backups.apply(mine, msg.e) satisfies ReplReply;
  }

  /** Drops backup copies of partitions this node has not backed up for a minute. */
  private dropStrayBackups(): void {
    const table = this.membership.table;
    const now = Date.now();
    this.backups.dropStale(now, STALE_COPIES_MS);
    for (const p of this.backups.partitions()) {
      const backedUp = table !== null && table.members.length > 0 && (table.ownerOf(p) === this.id || table.backupsOf(p).includes(this.id));
      if (backedUp) {
        this.strayBackups.delete(p);
        continue;
      }
      const since = this.strayBackups.get(p) ?? now;
      this.strayBackups.set(p, since);
      if (now - since > 60_000) {
        this.backups.drop(p);
        this.strayBackups.delete(p);
      }
    }
  }

  private ownerOf(partition: number): string | null {
    return this.table.members.length === 0 ? null : this.table.ownerOf(partition);
  }

  /** Takes the new table and lets the partition manager start, reverse or cancel moves. */
  private onView(view: View): void {
    const table = this.membership.table;
    if (table !== null && table.partitions !== this.partitions) {
      this.log.error({ cluster: table.partitions, node: this.partitions }, "this node's partition count differs from the cluster's; it cannot serve");
    }
    this.table = table ?? computeTable({ epoch: view.epoch, members: [] }, { partitions: this.partitions, backups: 1 });
    if (!view.members.some((m) => m.id === this.id)) {
      // Removed from the view while alive (cut off, paused): every copy here, and every actor it
      // owned, may have missed what happened since. They must never serve a backup read or win
      // over a current copy, so they become stale copies: the last resort of a recovery that
      // finds nothing current — when every node holding a session was removed at once (all
      // stalled), they are all that is left. Dropped after a minute.
      const owned: Array<{ partition: number; entries: ActorEntry[] }> = [];
      for (let p = 0; p < this.partitions; p++) {
        if (this.partitionManager.state(p) !== "serving") continue;
        try {
          owned.push({ partition: p, entries: this.host.exportPartition(p, { replicatedOnly: true }) });
        } catch {
          // A turn is running: that partition's actors are not kept (its backups may hold them).
        }
      }
      this.backups.demote(owned, Date.now());
      this.strayBackups.clear();
    }
    if (this.isWorker) this.partitionManager.onView(view, table);
    this.backupReader.onView(view.epoch, table);
    for (const wake of this.viewWaiters) wake();
    this.viewWaiters.clear();
    void this.refreshRecords();
    for (const fn of this.viewListeners) {
      try {
        fn(view);
      } catch (err) {
        this.log.warn({ err }, "a view listener threw");
      }
    }
  }

  private waitForView(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.viewWaiters.add(done);
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  private recordStats(): NodeRecordStats {
    const s = this.host.stats();
    const now = Date.now();
    const moving = Object.values(this.partitionManager.stats.inMotion).reduce((a, b) => a + b, 0);
    return {
      actors: s.active,
      partitions: this.isWorker && this.table.members.includes(this.id) ? this.table.ownedBy(this.id).length : 0,
      epoch: this.view.epoch,
      passive: s.passive,
      moving,
      movesStarted: this.partitionManager.stats.movesStarted,
      movesFinished: this.partitionManager.stats.movesFinished,
      movesAborted: this.partitionManager.stats.movesAborted,
      recoveries: this.partitionManager.stats.recoveries,
      replicationLagMs: this.replicator.stats.lagMs,
      backupCopies: this.backups.size,
      // Rates over the record interval, for `berth status` (Prometheus computes its own from the counters).
      callsPerSec: round1(this.callRate.sample(this.callsRun, now)),
      deltasPerSec: round1(this.deltaRate.sample(this.replicator.stats.deltas, now)),
      replicationBytesPerSec: Math.round(this.byteRate.sample(this.replicator.stats.bytes, now)),
    };
  }

  override stats(): ClusterStats {
    return {
      ...super.stats(),
      epoch: this.view.epoch,
      state: this.membership.state,
      members: this.view.members.length,
      partitionsOwned: this.table.members.includes(this.id) ? this.table.ownedBy(this.id).length : 0,
      leaseValid: this.membership.leaseValid(),
      rpc: { ...this.rpcCounters },
      replication: { ...this.replicator.stats, backupCopies: this.backups.size },
      moves: { ...this.partitionManager.stats, inMotion: { ...this.partitionManager.stats.inMotion } },
      backupReads: { ...this.backupReader.stats },
    };
  }

  protected override metricFamilies(): MetricFamily[] {
    const stats = this.stats();
    return [
      ...hostFamilies(stats),
      ...clusterFamilies({
        stats,
        calls: this.callsRun,
        malformedDropped: this.transport.malformedBatches + this.updates.malformed,
        recoveryDurations: this.partitionManager.recoveryDurations.snapshot(),
        moveDurations: this.partitionManager.moveDurations.snapshot(),
        eventLog: this.eventLogHandle?.stats() ?? null,
      }),
    ];
  }

  override metricLabels(): Labels {
    return { node: this.id, cluster: this.cluster };
  }

  /** The event log, if this node opened one. */
  get eventLog(): EventLog | null {
    return this.eventLogHandle;
  }

  /**
   * Stops gracefully: this node is marked leaving, its partitions move to their new owners
   * (nothing is lost and no call fails), then it leaves the view and closes its connection.
   * After `shutdownTimeout` it leaves anyway (logged); replicated actors then survive in backups.
   */
  override async stop(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.recordTimer);
    clearInterval(this.housekeeping);
    const started = Date.now();
    try {
      await this.membership.leave(this.shutdownTimeoutMs, () => this.partitionManager.handedOver(this.shutdownTimeoutMs));
      this.log.info({ ms: Date.now() - started }, "left the cluster; every partition handed over");
    } catch (err) {
      this.log.warn({ err, ms: Date.now() - started }, "could not hand everything over in time; leaving anyway (replicated actors live on in backups)");
    }
    this.partitionManager.stop();
    this.replicator.close();
    await super.stop();
    await this.eventLogHandle?.close().catch(() => undefined);
    await this.transport.close();
    await this.nc.drain().catch(() => undefined);
  }

  /** Stops at once without leaving the view, as a crash would (for tests). */
  async crash(): Promise<void> {
    clearInterval(this.recordTimer);
    clearInterval(this.housekeeping);
    this.membership.stop();
    this.partitionManager.stop();
    this.replicator.close();
    await super.stop();
    await this.transport.close();
    await this.nc.close().catch(() => undefined);
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
