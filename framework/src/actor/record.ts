/**
 * The durable form of an actor: what passivation keeps, a move ships and replication
 * rebuilds. Everything an actor is, apart from code, is in here.
 */

/** A pending durable timer. `due` is absolute (ms since the epoch), so it survives moves. */
export interface TimerRecord {
  readonly id: string;
  readonly due: number;
  readonly handler: string;
  readonly args: readonly unknown[];
}

/**
 * The outcome of a recent call that carried a call id, kept so a retry of the same call (after
 * a lost reply, a redirect or a failover) gets the same answer instead of running twice.
 */
export interface CallOutcome {
  readonly id: string;
  /** ms since the epoch. */
  readonly at: number;
  readonly ok: boolean;
  /** The result (ok) or the error in its wire form (not ok). */
  readonly value: unknown;
}

/** An actor's durable record. */
export interface ActorRecord {
  /** The committed state. */
  readonly state: unknown;
  /** Pending timers, earliest first. */
  readonly timers: readonly TimerRecord[];
  /** The next timer number, so timer ids stay unique across activations. */
  readonly timerSeq: number;
  /** When the actor last handled a call or a timer (ms since the epoch). */
  readonly lastUsed: number;
  /** Outcomes of recent calls with ids (see `CallOutcome`). */
  readonly calls?: readonly CallOutcome[];
  /**
   * Replication sequence: the number of replicated turns committed so far (0 for a new actor;
   * an actor created again soon after being destroyed continues its predecessor's count).
   */
  readonly seq?: number;
}

/** An actor's record with its identity, as partitions are exported, moved and recovered. */
export interface ActorEntry {
  readonly type: string;
  readonly id: string;
  readonly record: ActorRecord;
}
