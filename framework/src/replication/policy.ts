import { ConfigError } from "../errors.js";
import { toMillis, type Duration } from "../time/duration.js";

/**
 * Backup policies decide, for each committed turn, where its delta must be before the caller
 * gets the reply (sync) and where it goes afterwards (async). The replicator carries the plan
 * out; policies only decide. See docs/guides/backup-policies.md.
 */

/** What happens to one committed turn's delta. */
export interface ReplicationPlan {
  /** Hot backups that must hold the delta before the reply is released. */
  readonly syncBackups: number;
  /** Further hot backups fed after the reply. */
  readonly asyncBackups: number;
  /** Whether the reply waits for the event log to acknowledge the delta. */
  readonly syncLog: boolean;
  /** Whether the delta is appended to the event log after the reply. */
  readonly asyncLog: boolean;
}

/** What a policy may look at when planning a turn. */
export interface TurnInfo {
  readonly actorType: string;
  readonly actorId: string;
  /** The handler that ran (or `"timer"`, `"onActivate"`…). */
  readonly handler: string;
  /** Whether the turn deleted the actor. */
  readonly destroyed: boolean;
}

/** How an actor type's turns are backed up. Choose one per actor type with `defineActor({ backup })`. */
export interface BackupPolicy {
  /** A short name for logs and `berth status`, e.g. `"sync(backups=1)"`. */
  readonly name: string;
  /** Whether committed turns produce deltas at all (false only for memory-only policies). */
  readonly replicates: boolean;
  /**
   * For background replication: the most a backup may lag behind (ms). When the oldest
   * unacknowledged delta is older than this, replies wait until it is acknowledged.
   */
  readonly maxLagMs?: number;
  /**
   * For background replication: how long a delta may wait (ms) to share its message to a
   * backup with later ones. Fewer, larger messages cost the cluster less CPU per write; the
   * price is up to this much more replication lag. A delta some reply waits for never waits.
   * Default 0: it leaves in the event-loop turn that committed it.
   */
  readonly lingerMs?: number;
  /**
   * How many of a partition's backups — the first ones in the partition table — receive every
   * committed turn of this policy (in the plan's sync or async part). Only these may answer
   * queries of an actor type with `readFrom: "backup"`. Default 0: no backup serves reads.
   */
  readonly hotBackups?: number;
  /** The plan for one committed turn. */
  plan(turn: TurnInfo): ReplicationPlan;
}

const NOTHING: ReplicationPlan = Object.freeze({ syncBackups: 0, asyncBackups: 0, syncLog: false, asyncLog: false });

/**
 * Memory only: no replication. A passivated actor's state stays in the node's memory; a
 * node that dies loses its sessions — the trade-off of plain sticky sessions.
 * @example defineActor("scratch", { state: () => ({}), backup: none() })
 */
export function none(): BackupPolicy {
  return NONE;
}

const NONE: BackupPolicy = Object.freeze({ name: "none", replicates: false, hotBackups: 0, plan: () => NOTHING });

/**
 * Reply first, replicate to the first backup in the background. A node that dies loses at
 * most the turns of its last `maxLagMs` (the lag is measured and exported); replies wait when
 * a backup falls further behind than that. Deltas are sent in batches: one waits up to
 * `lingerMs` for later ones to share its message (Kafka's `linger.ms`), which on the measured
 * 3-node cluster made a replicated write cost about a fifth less CPU.
 * @param options.maxLagMs the bound on lag, default 1000
 * @param options.lingerMs how long a delta may wait for company, default `maxLagMs / 5` capped at 20 ms; 0 sends at once
 * @example defineActor("feed", { state: () => ({ seen: [] as string[] }), backup: async({ maxLagMs: 500 }) })
 */
export function async(options: { maxLagMs?: Duration; lingerMs?: Duration } = {}): BackupPolicy {
  const maxLagMs = toMillis(options.maxLagMs ?? 1000, "async maxLagMs");
  if (maxLagMs <= 0) throw new ConfigError("async({ maxLagMs }) must be positive");
  const lingerMs = options.lingerMs === undefined ? Math.min(DEFAULT_LINGER_MS, maxLagMs / 5) : toMillis(options.lingerMs, "async lingerMs");
  if (lingerMs < 0 || lingerMs >= maxLagMs) throw new ConfigError(`async({ lingerMs }) must be at least 0 and below maxLagMs (${maxLagMs} ms); got ${lingerMs}`);
  const plan: ReplicationPlan = Object.freeze({ syncBackups: 0, asyncBackups: 1, syncLog: false, asyncLog: false });
  return Object.freeze({ name: `async(maxLag=${maxLagMs}ms)`, replicates: true, maxLagMs, lingerMs, hotBackups: 1, plan: () => plan });
}

/** The most a background delta waits for company by default (ms). */
const DEFAULT_LINGER_MS = 20;

/**
 * Reply only once the turn's delta is safe: in the memory of `backups` backup nodes (hot
 * standby: the first backup takes over without replay), and/or acknowledged by the event log
 * (`log: true`, JetStream: survives the loss of every Berth node).
 * @param options.backups hot backups to wait for, default 1 (0 with `log: true`)
 * @param options.log wait for the event log too, default false
 * @example
 * ```ts
 * defineActor("cart", { state: () => ({ items: [] as string[] }), backup: sync({ backups: 1 }) });
 * defineActor("order", { state: () => ({ paid: false }), backup: sync({ log: true }) });
 * ```
 */
export function sync(options: { backups?: number; log?: boolean } = {}): BackupPolicy {
  const log = options.log ?? false;
  const backups = options.backups ?? (log ? 0 : 1);
  if (!Number.isInteger(backups) || backups < 0 || backups > 4) throw new ConfigError(`sync({ backups }) must be an integer from 0 to 4; got ${options.backups}`);
  if (backups === 0 && !log) throw new ConfigError("sync() needs backups >= 1 or log: true — for no replication use none()");
  const plan: ReplicationPlan = Object.freeze({ syncBackups: backups, asyncBackups: 0, syncLog: log, asyncLog: false });
  const name = `sync(${[backups > 0 ? `backups=${backups}` : "", log ? "log" : ""].filter(Boolean).join(",")})`;
  return Object.freeze({ name, replicates: true, hotBackups: backups, plan: () => plan });
}
