import type { Logger } from "pino";
import type { DependencyContainer } from "tsyringe";
import type { ActorType, HandlerEntry } from "../actor/defineActor.js";
import { resolveDeps } from "../actor/deps.js";
import { ActorIdentity } from "../actor/identity.js";
import { runSnapshotQuery, type SnapshotEnv } from "../actor/snapshotQuery.js";
import { MalformedMessageError } from "../errors.js";
import type { PartitionTable } from "../placement/index.js";
import type { ControlMessage } from "../transport/control.js";
import type { BackupStore } from "./BackupStore.js";

/**
 * Queries of actor types with `readFrom: "backup"`, answered by a caller that holds a hot copy
 * (docs/guides/backup-policies.md#reading-from-backups).
 *
 * A copy answers only if all of this holds, else the call goes to the owner as usual:
 * 1. this node is one of the partition's first `hotBackups` backups in its view — the backups
 *    the policy sends every turn to — and has been, under the same owner, since the epoch the
 *    copy was last written at (a copy from an earlier stint as a backup may have missed turns);
 * 2. the copy exists and is not waiting for a full record (a gap in its sequence);
 * 3. this node's lease holds, and a **read mark** from the owner is fresh: the owner confirmed,
 *    at most `MARK_TTL_MS` ago, that it is at this node's epoch with its lease valid, and how far
 *    its replication stream to this node lags. For a policy with `maxLagMs`, the mark's age plus
 *    that lag must stay within `maxLagMs`.
 *
 * What a read then sees: under `sync`, every write acknowledged before the read started (a sync
 * write is acknowledged only once this node holds it), except — while a view change moves the
 * hot-backup role away from this node — writes acknowledged in the last `MARK_TTL_MS`. Under
 * `async({ maxLagMs })`, every write the owner committed more than `maxLagMs` before the read.
 * Writes in flight may or may not be seen.
 */

/** How long an owner's read mark may be used. Bounds the staleness of reads across a view change. */
export const MARK_TTL_MS = 500;
/** Longest wait for a read mark; a read that cannot get one goes to the owner. */
const MARK_TIMEOUT_MS = 250;
/** Backup ranks tracked (`sync({ backups })` allows at most 4). */
const MAX_HOT = 4;

/** The owner's answer to a mark request, with when it was asked (this node's clock). */
export interface ReadMark {
  /** The owner's view epoch. */
  readonly epoch: number;
  /** The owner's lease was valid when it answered. */
  readonly lease: boolean;
  /** The age of the oldest item the owner had not yet seen confirmed by this node (ms). */
  readonly lagMs: number;
  /** When the request left (ms): everything the owner committed `lagMs` before this is held here. */
  readonly askedAt: number;
}

/** Whether a mark lets a copy answer now: usable, and whether to ask for a new one already. */
export function markState(mark: ReadMark | undefined, now: number, epoch: number, maxLagMs: number | undefined): { usable: boolean; renew: boolean } {
  if (mark === undefined || !mark.lease || mark.epoch !== epoch) return { usable: false, renew: true };
  const age = now - mark.askedAt;
  if (age < 0 || age > MARK_TTL_MS) return { usable: false, renew: true };
  if (maxLagMs !== undefined && age + mark.lagMs > maxLagMs) return { usable: false, renew: true };
  const renew = age > MARK_TTL_MS / 2 || (maxLagMs !== undefined && age + mark.lagMs > maxLagMs / 2);
  return { usable: true, renew };
}

/** The owner side of the mark protocol: its epoch, its lease, and its stream's lag to the asker. */
export function answerReadMark(msg: ControlMessage, owner: { epoch(): number; leaseValid(): boolean; lagTo(target: string): number }): { e: number; lease: boolean; lagMs: number } {
  if (typeof msg.from !== "string" || msg.from.length === 0 || msg.from.length > 64) throw new MalformedMessageError("readMark needs from");
  return { e: owner.epoch(), lease: owner.leaseValid(), lagMs: owner.lagTo(msg.from) };
}

function checkMarkReply(value: unknown): { e: number; lease: boolean; lagMs: number } {
  const r = value as { e?: unknown; lease?: unknown; lagMs?: unknown } | null;
  if (typeof r !== "object" || r === null || !Number.isInteger(r.e) || typeof r.lease !== "boolean" || typeof r.lagMs !== "number" || !(r.lagMs >= 0)) {
    throw new MalformedMessageError("readMark reply is malformed");
  }
  return r as { e: number; lease: boolean; lagMs: number };
}

/** Counts of `readFrom: "backup"` queries on the calling node. */
export interface BackupReadStats {
  /** Answered here from a hot copy. */
  served: number;
  /** Sent to the owner: this node is not a hot backup of the actor's partition. */
  notBackup: number;
  /** Sent to the owner: no usable copy here (never replicated, passivated before, waiting for a full record). */
  noCopy: number;
  /** Sent to the owner: no fresh read mark (owner unreachable, view changing, lag beyond `maxLagMs`). */
  stale: number;
  /** Read marks asked for. */
  marks: number;
}

/** What the reader needs from its node. */
export interface BackupReaderDeps {
  readonly selfId: string;
  readonly log: Logger;
  readonly backups: BackupStore;
  /** The node's root container: a backup read resolves the type's deps in a child of it. */
  readonly container: DependencyContainer;
  readonly env: SnapshotEnv;
  epoch(): number;
  leaseValid(): boolean;
  /** Whether this node neither owns nor is taking over `partition`. */
  idle(partition: number): boolean;
  sendControl(target: string, msg: ControlMessage, timeoutMs: number): Promise<unknown>;
  /** Re-reads the view (an owner answered with a newer epoch). */
  reconcile(): Promise<void>;
  /** Wall time (ms). Default `Date.now`. */
  now?(): number;
}

interface HotSince {
  readonly owner: string;
  /** Per rank limit k (0-based): the epoch since which this node has had rank ≤ k; Infinity if not now. */
  readonly since: readonly number[];
}

/** Answers `readFrom: "backup"` queries from this node's hot copies when they are fresh enough. */
export class BackupReader {
  readonly stats: BackupReadStats = { served: 0, notBackup: 0, noCopy: 0, stale: 0, marks: 0 };
  private hot = new Map<number, HotSince>();
  private lastEpoch = -1;
  private readonly marks = new Map<string, ReadMark>();
  private readonly asking = new Map<string, Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly deps: BackupReaderDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Takes a new view's table: where this node is a backup, and since when. Epochs grow by one per
   * view change; a node that skipped one cannot tell whether it was a backup in it, so after a
   * skip every partition counts as a backup only from the new epoch on.
   */
  onView(epoch: number, table: PartitionTable | null): void {
    const continuous = epoch === this.lastEpoch || epoch === this.lastEpoch + 1;
    this.lastEpoch = epoch;
    const next = new Map<number, HotSince>();
    if (table !== null && table.members.length > 0) {
      for (const p of table.backedUpBy(this.deps.selfId)) {
        const rank = table.backupsOf(p).indexOf(this.deps.selfId);
        const owner = table.ownerOf(p);
        const prev = this.hot.get(p);
        const kept = continuous && prev !== undefined && prev.owner === owner ? prev.since : undefined;
        const since = Array.from({ length: MAX_HOT }, (_, k) => (rank > k ? Infinity : Math.min(kept?.[k] ?? Infinity, epoch)));
        next.set(p, { owner, since });
      }
    }
    this.hot = next;
    for (const [owner, mark] of this.marks) if (mark.epoch !== epoch) this.marks.delete(owner);
  }

  /**
   * Answers a query of a `readFrom: "backup"` type from this node's copy if it is fresh enough,
   * else through `toOwner`.
   */
  read(type: ActorType, entry: HandlerEntry, id: string, partition: number, owner: string, args: unknown[], toOwner: () => Promise<unknown>): Promise<unknown> {
    const since = this.hotSince(type, partition, owner);
    if (since === null) {
      this.stats.notBackup++;
      return toOwner();
    }
    const copy = this.deps.backups.peek(partition, type.name, id);
    if (copy === undefined || copy.behind || copy.epoch < since) {
      this.stats.noCopy++;
      return toOwner();
    }
    const mark = markState(this.marks.get(owner), this.now(), this.deps.epoch(), type.backup.maxLagMs);
    if (mark.renew) void this.ask(owner);
    if (mark.usable && this.deps.leaseValid()) return this.answer(type, entry, id, partition, args);
    // No fresh mark yet: one round trip for it (shared by every read waiting on this owner),
    // then answer here if everything still holds.
    return this.ask(owner).then(() => {
      const again = this.hotSince(type, partition, owner);
      const c = this.deps.backups.peek(partition, type.name, id);
      const m = markState(this.marks.get(owner), this.now(), this.deps.epoch(), type.backup.maxLagMs);
      if (again === null || c === undefined || c.behind || c.epoch < again || !m.usable || !this.deps.leaseValid()) {
        this.stats.stale++;
        return toOwner();
      }
      return this.answer(type, entry, id, partition, args);
    });
  }

  /** The epoch since which this node has continuously been a hot backup of `partition` for `type`, or null. */
  private hotSince(type: ActorType, partition: number, owner: string): number | null {
    const h = this.hot.get(partition);
    if (h === undefined || h.owner !== owner || !this.deps.idle(partition)) return null;
    const hot = Math.min(type.backup.hotBackups ?? 0, MAX_HOT);
    if (hot < 1) return null;
    const since = h.since[hot - 1] ?? Infinity;
    return Number.isFinite(since) ? since : null;
  }

  private answer(type: ActorType, entry: HandlerEntry, id: string, partition: number, args: unknown[]): Promise<unknown> {
    const copy = this.deps.backups.peek(partition, type.name, id);
    if (copy === undefined) return Promise.reject(new Error(`backup copy of ${type.name}/${id} vanished`)); // unreachable: checked just before, synchronously
    let deps: unknown;
    let container: DependencyContainer | undefined;
    if (type.deps !== undefined) {
      container = this.deps.container.createChildContainer();
      container.register(ActorIdentity, { useValue: { type: type.name, id } });
      try {
        deps = resolveDeps(type.name, type.deps, container);
      } catch (error) {
        void container.dispose();
        return Promise.reject(error);
      }
    }
    this.stats.served++;
    const out = runSnapshotQuery({ type, entry, id, state: copy.state, args, deps }, this.deps.env);
    if (container === undefined) return out;
    const c = container;
    return out.finally(() => void c.dispose());
  }

  /** Asks `owner` for a read mark (one request at a time per owner). */
  private ask(owner: string): Promise<void> {
    const pending = this.asking.get(owner);
    if (pending !== undefined) return pending;
    const askedAt = this.now();
    const epoch = this.deps.epoch();
    this.stats.marks++;
    const p = this.deps
      .sendControl(owner, { op: "readMark", from: this.deps.selfId, e: epoch }, MARK_TIMEOUT_MS)
      .then((reply) => {
        const r = checkMarkReply(reply);
        if (r.e > this.deps.epoch()) void this.deps.reconcile().catch(() => undefined);
        this.marks.set(owner, { epoch: r.e, lease: r.lease, lagMs: r.lagMs, askedAt });
      })
      .catch((err: unknown) => {
        this.marks.delete(owner);
        this.deps.log.debug({ err, owner }, "no read mark from the owner; its queries go to it");
      })
      .finally(() => this.asking.delete(owner));
    this.asking.set(owner, p);
    return p;
  }
}
