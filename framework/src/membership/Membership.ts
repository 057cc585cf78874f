import { createActor, type Actor } from "xstate";
import type { Logger } from "pino";
import { ConfigError } from "../errors.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import type { Transport } from "../transport/types.js";
import { WIRE_PROTOCOL } from "../transport/wire.js";
import { encodeTable, rebalance, type PartitionTable, type PlacementOptions } from "../placement/index.js";
import { decodeHeartbeat, encodeJson, placedMembers, sameMembers, sortMembers, tableOfView } from "./codec.js";
import { memberLiveness, nodeLifecycle, xstateClock } from "./machines.js";
import type { Heartbeat, Member, NodeDirectory, NodeRecord, NodeRecordStats, NodeState, StoredView, View, ViewStore } from "./types.js";

/** Failure-detection and lease timing, in ms. */
export interface MembershipTiming {
  /** How often a node says it is alive. Default 250. */
  heartbeatMs: number;
  /** Silence after which a peer is suspect. Default 750. */
  suspectAfterMs: number;
  /** Silence after which a peer is declared down and removed from the view. Default 1500. */
  downAfterMs: number;
  /**
   * How long a node keeps serving after its last heartbeat the server confirmed. Must be
   * shorter than `downAfterMs`, so a node cut off stops before anyone takes over. Default 1000.
   */
  leaseMs: number;
  /** How often the view is re-read from the store, in case a watch stalled. Default 1000. */
  reconcileMs: number;
  /** How often the node rewrites its directory record. Default 5000. */
  recordEveryMs: number;
}

export const DEFAULT_TIMING: MembershipTiming = {
  heartbeatMs: 250,
  suspectAfterMs: 750,
  downAfterMs: 1500,
  leaseMs: 1000,
  reconcileMs: 1000,
  recordEveryMs: 5000,
};

/** What this node is, for the view and its record. */
export interface SelfDescription extends Member {
  readonly pid: number;
  readonly host: string;
  readonly started: number;
  readonly http?: string;
}

export interface MembershipOptions {
  readonly self: SelfDescription;
  readonly transport: Transport & { flush?(): Promise<void> };
  readonly views: ViewStore;
  readonly directory: NodeDirectory;
  readonly clock: Clock;
  readonly log: Logger;
  readonly timing?: Partial<MembershipTiming>;
  /** How the proposer places partitions when it changes the view. */
  readonly placement: PlacementOptions;
  /** Counts for the node's directory record. */
  readonly stats?: () => NodeRecordStats;
}

/** Counts exported by membership. */
export interface MembershipCounters {
  heartbeatsSent: number;
  malformedHeartbeats: number;
  viewsApplied: number;
  proposals: number;
  casConflicts: number;
  leaseLosses: number;
}

type Liveness = Actor<ReturnType<typeof memberLiveness>>;

/**
 * Membership of one node: it joins the view, proves it is alive with heartbeats, watches its
 * peers, and changes the view (by compare-and-set) when a node joins, leaves or dies.
 *
 * Safety rests on the lease: a node serves only while the server has confirmed one of its
 * heartbeats within `leaseMs`, and peers declare it down only after `downAfterMs` > `leaseMs`
 * of silence — so a node that is cut off (or frozen) stops serving before its partitions can
 * be taken over. See docs/architecture.md#membership.
 */
export class Membership {
  readonly timing: MembershipTiming;
  readonly counters: MembershipCounters = { heartbeatsSent: 0, malformedHeartbeats: 0, viewsApplied: 0, proposals: 0, casConflicts: 0, leaseLosses: 0 };
  private view: View = { epoch: 0, members: [], table: null };
  private viewTable: PartitionTable | null = null;
  private revision: number | null = null;
  /** Set when the stored view is unreadable and must be rewritten. */
  private unreadable = false;
  private readonly lifecycle: Actor<typeof nodeLifecycle>;
  private readonly liveness = new Map<string, { incarnation: string; actor: Liveness }>();
  private readonly viewListeners = new Set<(view: View, previous: View) => void>();
  private readonly leaseListeners = new Set<(valid: boolean) => void>();
  /** Called once if another process with this node's id takes its place in the view (this one then stops). */
  private readonly conflictListeners = new Set<(error: ConfigError) => void>();
  /** The last heartbeat heard from another process with this node's id: a twin (a misconfiguration). */
  private twin: { readonly incarnation: string; readonly at: number } | null = null;
  private lastRenewal = Number.NEGATIVE_INFINITY;
  private leaseWasValid = false;
  private proposing: Promise<void> | null = null;
  private proposeAgain = false;
  /** The view read in flight (reconcile), and the one queued behind it for everyone who asked meanwhile. */
  private reconciling: Promise<void> | null = null;
  private reconcileNext: Promise<void> | null = null;
  /** Set once `start` has checked that no live process uses this node's id: no proposal before. */
  private mayPropose = false;
  /** Whether the last proposal failed (the view store did not answer): it is retried at every reconcile. */
  private proposalsFailing = false;
  private readonly handles = new Set<TimerHandle>();
  private readonly stops: Array<() => void> = [];
  private stopped = false;
  private started = false;
  /** Set once a leaving node has handed everything over: the next proposal removes it. */
  private handedOver = false;
  private lastRecordAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: MembershipOptions) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    const t = this.timing;
    if (!(t.leaseMs < t.downAfterMs)) {
      throw new ConfigError(`membership leaseMs (${t.leaseMs}) must be shorter than downAfterMs (${t.downAfterMs}), or a cut-off node could still serve after others took over`);
    }
    if (!(t.heartbeatMs * 2 <= t.leaseMs)) {
      throw new ConfigError(`membership heartbeatMs (${t.heartbeatMs}) must be at most half of leaseMs (${t.leaseMs})`);
    }
    this.lifecycle = createActor(nodeLifecycle);
    this.lifecycle.subscribe(() => this.onLifecycle());
    this.lifecycle.start();
  }

  get self(): SelfDescription {
    return this.options.self;
  }

  /** The current view. */
  get current(): View {
    return this.view;
  }

  /** The partition table of the current view (null while no worker is up). */
  get table(): PartitionTable | null {
    return this.viewTable;
  }

  /** This node's lifecycle state. */
  get state(): NodeState {
    const v = this.lifecycle.getSnapshot().value;
    return v === "isolated" ? "up" : (v as NodeState);
  }

  /**
   * True while this node may serve: it is up (or leaving, handing its partitions over), in the
   * view, and its lease is fresh.
   */
  leaseValid(): boolean {
    const v = this.lifecycle.getSnapshot().value;
    return (v === "up" || v === "leaving") && this.options.clock.now() - this.lastRenewal < this.timing.leaseMs;
  }

  /** Calls `fn(view, previous)` on every view change. Returns the unsubscribe function. */
  onView(fn: (view: View, previous: View) => void): () => void {
    this.viewListeners.add(fn);
    return () => this.viewListeners.delete(fn);
  }

  /** Calls `fn(valid)` when the lease is lost or regained. */
  onLease(fn: (valid: boolean) => void): () => void {
    this.leaseListeners.add(fn);
    return () => this.leaseListeners.delete(fn);
  }

  /**
   * Calls `fn` if another process with this node's id took its place in the view while this one
   * ran (both started at once): this node then stops serving for good, and does not fight back.
   */
  onConflict(fn: (error: ConfigError) => void): () => void {
    this.conflictListeners.add(fn);
    return () => this.conflictListeners.delete(fn);
  }

  /** Ids of view members this node currently hears (itself included). */
  liveMembers(): string[] {
    return this.view.members.filter((m) => m.id === this.self.id || this.liveness.get(m.id)?.actor.getSnapshot().value !== "down").map((m) => m.id);
  }

  /** Liveness of a peer as this node sees it. */
  livenessOf(id: string): "alive" | "suspect" | "down" | "self" | "unknown" {
    if (id === this.self.id) return "self";
    const l = this.liveness.get(id);
    return l ? (l.actor.getSnapshot().value as "alive" | "suspect" | "down") : "unknown";
  }

  /**
   * Joins the cluster: starts heartbeats, reads and watches the view, and proposes a view that
   * includes this node. Resolves once this node is in the view.
   */
  async start(timeoutMs = 30_000): Promise<void> {
    const { transport, views, log } = this.options;
    this.started = true;
    this.stops.push(transport.subscribe("hb", (bytes) => this.onHeartbeat(bytes)));
    this.lifecycle.send({ type: "CONNECTED" });
    this.heartbeat();
    const stored = await views.read();
    // Before applying the view (that proposes this node, and repairs a view of another
    // partition count): a node configured otherwise than its cluster must not join it.
    const existing = partitionsOf(stored?.view ?? null);
    if (existing !== undefined && existing !== this.options.placement.partitions) {
      this.stop();
      throw new ConfigError(`this cluster uses ${existing} partitions but this node is configured with ${this.options.placement.partitions}; the partition count is a cluster-wide constant`);
    }
    await this.checkTwin(stored?.view ?? null);
    this.mayPropose = true;
    this.applyStored(stored);
    this.stops.push(views.watch((stored) => this.applyStored(stored)));
    this.every(this.timing.reconcileMs, () => void this.reconcile());
    this.every(this.timing.heartbeatMs, () => this.heartbeat());
    await this.propose();
    await this.until(() => this.state === "up", timeoutMs, "join the cluster view (is the view store reachable?)");
    await this.writeRecord();
    log.info({ epoch: this.view.epoch, members: this.view.members.length }, "joined the cluster");
  }

  /**
   * The view lists this node's id with another incarnation: a restart after a crash (the old
   * process is silent) or a second process given the same id (it heartbeats). Listen for it
   * before taking its place — taking the place of a live node makes the two remove each other
   * from the view forever, and each time one of them drops the sessions it held.
   */
  private async checkTwin(view: View | null): Promise<void> {
    const { self, clock } = this.options;
    if (view === null || !view.members.some((m) => m.id === self.id && m.incarnation !== self.incarnation)) return;
    const until = clock.now() + this.timing.suspectAfterMs;
    while (!this.heardTwin() && clock.now() < until) await this.sleep(25);
    if (!this.heardTwin()) return;
    const record = await this.options.directory.list().then(
      (rs) => rs.find((r) => r.id === self.id && r.incarnation !== self.incarnation),
      () => undefined,
    );
    this.stop();
    throw new ConfigError(`node id ${JSON.stringify(self.id)} is in use by a running node${record ? ` (pid ${record.pid} on ${record.host})` : ""}: give every node its own id (berth node --id, or createNode({ id })), or stop that node first`);
  }

  /** Whether another process with this node's id was heard within a failure-detection period (of `incarnation`, if given). */
  private heardTwin(incarnation?: string): boolean {
    const t = this.twin;
    return t !== null && this.options.clock.now() - t.at < this.timing.downAfterMs && (incarnation === undefined || t.incarnation === incarnation);
  }

  /**
   * Leaves gracefully: marks this node leaving (it stays a member but is placed nowhere, so its
   * partitions move to their new owners while it can still hand them over), waits for
   * `handOver`, then removes it from the view and stops.
   */
  async leave(timeoutMs = 10_000, handOver: () => Promise<void> = async () => undefined): Promise<void> {
    if (this.stopped) return;
    this.lifecycle.send({ type: "LEAVE" });
    await this.propose();
    try {
      await this.until(() => this.view.members.find((m) => m.id === this.self.id)?.leaving === true || !this.view.members.some((m) => m.id === this.self.id), timeoutMs, "mark this node leaving");
      await handOver();
      this.handedOver = true;
      await this.propose();
      await this.until(() => !this.view.members.some((m) => m.id === this.self.id), timeoutMs, "leave the view");
    } finally {
      this.lifecycle.send({ type: "LEFT" });
      await this.options.directory.remove(this.self.id).catch(() => undefined);
      this.stop();
    }
  }

  /** Stops everything at once (a crash, as far as peers can tell). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.lifecycle.send({ type: "FAIL" });
    for (const h of this.handles) this.options.clock.clearTimer(h);
    this.handles.clear();
    for (const s of this.stops) s();
    for (const { actor } of this.liveness.values()) actor.stop();
    this.liveness.clear();
  }

  /**
   * Re-reads the view from the store now, and proposes what this node still wants changed: a
   * proposal that failed (the store's server was down) is retried here, even if no one else
   * changed the view meanwhile.
   */
  reconcile(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    // One read in flight, and at most one more queued behind it: every message claiming a newer
    // epoch asks for one (a forged flood of them costs two reads, not one per message). The
    // queued one starts after the read in flight, which may have missed what its callers ask for.
    if (this.reconciling !== null) {
      this.reconcileNext ??= this.reconciling.then(() => {
        this.reconcileNext = null;
        return this.reconcile();
      });
      return this.reconcileNext;
    }
    this.reconciling = (async () => {
      try {
        this.applyStored(await this.options.views.read());
      } catch (err) {
        this.options.log.debug({ err }, "view reconcile failed");
        return;
      }
      await this.propose();
    })().finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  // ---- heartbeats and the lease ----

  private heartbeat(): void {
    if (this.stopped) return;
    const { transport, clock } = this.options;
    const sentAt = clock.now();
    const hb: Heartbeat = { id: this.self.id, incarnation: this.self.incarnation, epoch: this.view.epoch, state: this.state };
    try {
      transport.publish("hb", encodeJson(hb));
      this.counters.heartbeatsSent++;
      // The lease is renewed from the time the heartbeat was sent, once the server confirms it.
      const confirmed = transport.flush ? transport.flush() : Promise.resolve();
      confirmed.then(
        () => {
          if (sentAt > this.lastRenewal) this.lastRenewal = sentAt;
          this.checkLease();
        },
        () => undefined,
      );
    } catch (err) {
      this.options.log.debug({ err }, "heartbeat not sent");
    }
    this.checkLease();
    if (clock.now() - this.lastRecordAt >= this.timing.recordEveryMs) void this.writeRecord();
  }

  private checkLease(): void {
    const value = this.lifecycle.getSnapshot().value;
    const fresh = this.options.clock.now() - this.lastRenewal < this.timing.leaseMs;
    if (value === "up" && !fresh) {
      this.counters.leaseLosses++;
      this.options.log.warn({ sinceRenewalMs: this.options.clock.now() - this.lastRenewal }, "lease lapsed: not serving until NATS confirms a heartbeat");
      this.lifecycle.send({ type: "LEASE_LOST" });
    } else if (value === "isolated" && fresh) {
      this.lifecycle.send({ type: "LEASE_RENEWED" });
    }
  }

  /** A heartbeat with this node's id from another process. */
  private heardOwnId(incarnation: string): void {
    const known = this.twin?.incarnation === incarnation;
    this.twin = { incarnation, at: this.options.clock.now() };
    // The newcomer refuses to start when it hears this node (checkTwin); say so here too, once.
    if (!known && this.started && this.state === "up") this.options.log.error({ id: this.self.id, other: incarnation }, "another process uses this node's id; it must not join (give every node its own id)");
  }

  private onHeartbeat(bytes: Uint8Array): void {
    let hb: Heartbeat;
    try {
      hb = decodeHeartbeat(bytes);
    } catch (err) {
      this.counters.malformedHeartbeats++;
      this.options.log.debug({ err }, "malformed heartbeat ignored");
      return;
    }
    if (hb.id === this.self.id) {
      if (hb.incarnation !== this.self.incarnation) this.heardOwnId(hb.incarnation);
      return;
    }
    const l = this.liveness.get(hb.id);
    if (l !== undefined && l.incarnation === hb.incarnation) l.actor.send({ type: "HEARD" });
    // A peer that has seen a newer view than ours: read it now rather than at the next reconcile.
    if (hb.epoch > this.view.epoch) void this.reconcile();
  }

  // ---- the view ----

  private applyStored(stored: StoredView | null): void {
    if (stored === null || this.stopped) return;
    if (this.revision !== null && stored.revision <= this.revision) return;
    this.revision = stored.revision;
    if (stored.view === null) {
      this.unreadable = true;
      void this.propose();
      return;
    }
    let table: PartitionTable | null;
    try {
      table = tableOfView(stored.view);
    } catch (err) {
      this.options.log.warn({ err, revision: stored.revision }, "the stored view's table does not fit its members; keeping the last good view until it is repaired");
      this.unreadable = true;
      void this.propose();
      return;
    }
    if (table !== null && table.partitions !== this.options.placement.partitions) {
      // Not a view any member wrote (start() refuses a node configured otherwise): serving it
      // would put partitions out of range. Repaired like an unreadable one.
      this.options.log.warn({ revision: stored.revision, partitions: table.partitions, expected: this.options.placement.partitions }, "the stored view's table has another partition count than this cluster; keeping the last good view until it is repaired");
      this.unreadable = true;
      void this.propose();
      return;
    }
    this.unreadable = false;
    const previous = this.view;
    this.view = stored.view;
    this.viewTable = table;
    this.counters.viewsApplied++;
    this.syncLiveness();
    const self = this.view.members.find((m) => m.id === this.self.id);
    const inView = self !== undefined && self.incarnation === this.self.incarnation;
    const value = this.lifecycle.getSnapshot().value;
    if (inView && value === "joining") this.lifecycle.send({ type: "IN_VIEW" });
    if (!inView && (value === "up" || value === "isolated")) {
      const holder = this.view.members.find((m) => m.id === this.self.id);
      if (holder !== undefined && this.heardTwin(holder.incarnation)) {
        // Another live process took this id's place (both started at once): rejoining would
        // evict it, and it us, forever. This one gives way.
        const error = new ConfigError(`another process with node id ${JSON.stringify(this.self.id)} took this node's place in the view; this node stops (give every node its own id)`);
        this.options.log.error({ epoch: this.view.epoch, other: holder.incarnation }, error.message);
        this.stop();
        for (const fn of this.conflictListeners) fn(error);
        return;
      }
      this.options.log.warn({ epoch: this.view.epoch }, "this node was removed from the view while alive; rejoining");
      this.lifecycle.send({ type: "REMOVED" });
    }
    if (previous.epoch !== this.view.epoch) for (const fn of this.viewListeners) fn(this.view, previous);
    void this.propose();
  }

  private syncLiveness(): void {
    const ids = new Set(this.view.members.map((m) => m.id));
    for (const [id, l] of this.liveness) {
      const m = this.view.members.find((x) => x.id === id);
      if (!ids.has(id) || m?.incarnation !== l.incarnation) {
        l.actor.stop();
        this.liveness.delete(id);
      }
    }
    for (const m of this.view.members) {
      if (m.id === this.self.id || this.liveness.has(m.id)) continue;
      const actor = createActor(memberLiveness(this.timing), { clock: xstateClock(this.options.clock) });
      actor.subscribe((snap) => {
        if (snap.value === "down") {
          this.options.log.warn({ member: m.id }, "member declared down");
          void this.propose();
        }
      });
      actor.start();
      this.liveness.set(m.id, { incarnation: m.incarnation, actor });
    }
  }

  /** Forgets what this node concluded about its peers' liveness: each starts alive again. */
  private resetLiveness(): void {
    for (const { actor } of this.liveness.values()) actor.stop();
    this.liveness.clear();
    this.syncLiveness();
  }

  /** The view this node wants, or null if the current one is fine. */
  private desiredView(): View | null {
    const state = this.lifecycle.getSnapshot().value;
    const members = new Map(this.view.members.map((m) => [m.id, m] as const));
    let changed = this.unreadable;
    const selfMember: Member = { id: this.self.id, roles: this.self.roles, capacity: this.self.capacity, incarnation: this.self.incarnation };
    if (state === "joining" || state === "up" || state === "isolated") {
      const mine = members.get(this.self.id);
      if (mine === undefined || !sameMembers([mine], [selfMember])) {
        members.set(this.self.id, selfMember);
        changed = true;
      }
    } else if (state === "leaving" && members.has(this.self.id)) {
      const mine = members.get(this.self.id) as Member;
      if (this.handedOver) {
        members.delete(this.self.id);
        changed = true;
      } else if (mine.leaving !== true) {
        // Stay a member (reachable) while the partitions move away; be placed nowhere.
        members.set(this.self.id, { ...mine, leaving: true });
        changed = true;
      }
    }
    // Only the lowest-id live member removes dead peers, and only while its own lease holds:
    // a node that is itself cut off must not evict the others.
    if (this.leaseValid() && this.liveMembers()[0] === this.self.id) {
      for (const [id, l] of this.liveness) {
        if (l.actor.getSnapshot().value === "down" && members.has(id)) {
          members.delete(id);
          changed = true;
        }
      }
    }
    if (!changed) return null;
    const sorted = sortMembers([...members.values()]);
    const epoch = this.view.epoch + 1;
    const workers = placedMembers(sorted).map((m) => ({ id: m.id, capacity: m.capacity }));
    // The new table grows from the current one: orphans go to their first backups and only the
    // minimum number of partitions move (placement/rebalance.ts).
    const table = workers.length === 0 ? null : encodeTable(rebalance(this.viewTable, { epoch, members: workers }, this.options.placement));
    return { epoch, members: sorted, table };
  }

  /** Proposes the desired view by compare-and-set until it holds or nothing is left to change. */
  private propose(): Promise<void> {
    if (this.stopped || !this.mayPropose) return Promise.resolve();
    if (this.proposing) {
      this.proposeAgain = true;
      return this.proposing;
    }
    const run = async (): Promise<void> => {
      try {
        for (let attempt = 0; attempt < 20 && !this.stopped; attempt++) {
          this.proposeAgain = false;
          const next = this.desiredView();
          if (next === null) {
            if (!this.proposeAgain) return;
            continue;
          }
          this.counters.proposals++;
          const result = await this.options.views.swap(next, this.revision);
          if (this.proposalsFailing) this.options.log.info("the view store answers proposals again");
          this.proposalsFailing = false;
          if (result !== null) {
            this.options.log.info({ epoch: next.epoch, members: next.members.map((m) => m.id) }, "view changed");
            this.applyStored(result);
          } else {
            this.counters.casConflicts++;
            this.applyStored(await this.options.views.read());
          }
        }
      } catch (err) {
        // Retried at every reconcile: one warning per outage, not one a second.
        if (this.proposalsFailing) this.options.log.debug({ err }, "view proposal failed again");
        else this.options.log.warn({ err }, "view proposal failed; retrying at every reconcile until the view store takes it");
        this.proposalsFailing = true;
      }
    };
    // Cleared in a continuation, never synchronously: the loop may finish before its first
    // await, and a synchronous reset would run before this assignment and leave it stuck.
    this.proposing = run().finally(() => {
      this.proposing = null;
    });
    return this.proposing;
  }

  // ---- plumbing ----

  private onLifecycle(): void {
    const valid = this.leaseValid();
    if (valid !== this.leaseWasValid) {
      this.leaseWasValid = valid;
      // Silence heard while this node was cut off (or paused, or out of the view) says nothing
      // about its peers: it missed their heartbeats, they did not stop. Back in contact, each peer
      // must be silent a whole detection period again before this node may declare it down —
      // else a node healed from a partition evicts the very members that carried on without it.
      if (valid) this.resetLiveness();
      for (const fn of this.leaseListeners) fn(valid);
    }
    if (this.started && !this.stopped) void this.writeRecord();
  }

  private async writeRecord(): Promise<void> {
    // Not before `start` checked the id is free: the record's key is the id, and a second
    // process given the same id must not overwrite the running node's record.
    if (!this.mayPropose || (this.stopped && this.state !== "down")) return;
    this.lastRecordAt = this.options.clock.now();
    const s = this.self;
    const record: NodeRecord = {
      id: s.id,
      roles: s.roles,
      capacity: s.capacity,
      incarnation: s.incarnation,
      state: this.state,
      pid: s.pid,
      host: s.host,
      started: s.started,
      updated: this.options.clock.now(),
      ...(s.http !== undefined ? { http: s.http } : {}),
      protocol: WIRE_PROTOCOL,
      ...(this.options.stats ? { stats: this.safeStats() } : {}),
    };
    try {
      await this.options.directory.put(record);
    } catch (err) {
      this.options.log.debug({ err }, "node record not written");
    }
  }

  private safeStats(): NodeRecordStats {
    try {
      return (this.options.stats as () => NodeRecordStats)();
    } catch {
      return { actors: 0, partitions: 0, epoch: this.view.epoch };
    }
  }

  private every(ms: number, fn: () => void): void {
    const arm = (): void => {
      if (this.stopped) return;
      const h = this.options.clock.setTimer(() => {
        this.handles.delete(h);
        fn();
        arm();
      }, ms);
      this.handles.add(h);
    };
    arm();
  }

  private async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const { clock } = this.options;
    const deadline = clock.now() + timeoutMs;
    while (!cond()) {
      if (this.stopped) throw new ConfigError(`membership stopped before it could ${what}`);
      if (clock.now() > deadline) throw new ConfigError(`could not ${what} within ${timeoutMs} ms`);
      await this.sleep(20);
      if (!cond()) await this.propose();
    }
  }

  /** Waits `ms` on the membership's clock (fake in tests); `stop` clears the timer. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const h = this.options.clock.setTimer(() => {
        this.handles.delete(h);
        resolve();
      }, ms);
      this.handles.add(h);
    });
  }
}

/** The partition count of a view's table; undefined without one, or when it does not decode. */
function partitionsOf(view: View | null): number | undefined {
  if (view === null) return undefined;
  try {
    return tableOfView(view)?.partitions;
  } catch {
    return undefined;
  }
}
