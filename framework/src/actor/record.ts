import { MalformedMessageError } from "../errors.js";

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
  /** The result (ok) or the error in its wire form (not ok); absent for `undefined`. */
  readonly value?: unknown;
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
   * The latest time an id of an outcome dropped from `calls` was made (ms): a retry of a call
   * made no later may have run, and is refused rather than run twice (see actor/callIds.ts).
   */
  readonly callsForgotten?: number;
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
  /** A backup copy held since its node was removed from the view while alive (see BackupStore.demote). */
  readonly stale?: boolean;
}

/**
 * An actor as a move ships it: its record in the serialized form a passivated actor already
 * has (so a passivated actor is shipped without any work, and the receiver stores it as is),
 * plus the little the receiver needs before it ever parses the record: when it was last used
 * and when its timers are due. The record itself is validated when the actor activates.
 */
export interface SerializedActor {
  readonly type: string;
  readonly id: string;
  /** The `ActorRecord`, serialized with the framework serializer. */
  readonly data: string;
  readonly lastUsed: number;
  /** `[timer id, due]` of each pending timer. */
  readonly due: ReadonlyArray<readonly [string, number]>;
  /** For an actor cut into pieces to fit messages: `[index, count]` of this piece of `data`. */
  readonly part?: readonly [number, number];
}

/** Validates an actor record received from another node (or parsed from a stored form). */
export function checkRecord(value: unknown): ActorRecord {
  if (typeof value !== "object" || value === null) throw new MalformedMessageError("actor record must be an object");
  const r = value as Record<string, unknown>;
  if (!("state" in r)) throw new MalformedMessageError("actor record has no state");
  if (!Array.isArray(r.timers)) throw new MalformedMessageError("actor record timers must be a list");
  for (const t of r.timers as unknown[]) {
    const tt = t as Record<string, unknown> | null;
    if (typeof tt !== "object" || tt === null || typeof tt.id !== "string" || typeof tt.handler !== "string" || typeof tt.due !== "number" || !Array.isArray(tt.args)) {
      throw new MalformedMessageError("actor record has a malformed timer");
    }
  }
  if (typeof r.timerSeq !== "number" || typeof r.lastUsed !== "number") throw new MalformedMessageError("actor record counters are invalid");
  if (r.calls !== undefined) {
    if (!Array.isArray(r.calls)) throw new MalformedMessageError("actor record calls must be a list");
    for (const c of r.calls as unknown[]) {
      const cc = c as Record<string, unknown> | null;
      if (typeof cc !== "object" || cc === null || typeof cc.id !== "string" || cc.id.length === 0 || cc.id.length > 256 || typeof cc.at !== "number" || !Number.isFinite(cc.at) || typeof cc.ok !== "boolean") {
        throw new MalformedMessageError("actor record has a malformed call outcome");
      }
    }
  }
  if (r.seq !== undefined && !Number.isSafeInteger(r.seq)) throw new MalformedMessageError("actor record seq must be an integer");
  if (r.callsForgotten !== undefined && (typeof r.callsForgotten !== "number" || !Number.isFinite(r.callsForgotten))) throw new MalformedMessageError("actor record callsForgotten must be a number");
  return value as ActorRecord;
}

/** Validates one serialized actor received in a move. */
export function checkSerializedActor(value: unknown, maxBytes: number): SerializedActor {
  if (typeof value !== "object" || value === null) throw new MalformedMessageError("a moved actor must be an object");
  const a = value as Record<string, unknown>;
  if (typeof a.type !== "string" || a.type.length === 0 || a.type.length > 64) throw new MalformedMessageError("a moved actor's type is invalid");
  if (typeof a.id !== "string" || a.id.length === 0 || a.id.length > 256) throw new MalformedMessageError("a moved actor's id is invalid");
  if (typeof a.data !== "string" || a.data.length > maxBytes) throw new MalformedMessageError("a moved actor's record is missing or too large");
  if (typeof a.lastUsed !== "number" || !Number.isFinite(a.lastUsed)) throw new MalformedMessageError("a moved actor's lastUsed is invalid");
  if (!Array.isArray(a.due) || a.due.length > 10_000) throw new MalformedMessageError("a moved actor's timers are invalid");
  for (const d of a.due as unknown[]) {
    if (!Array.isArray(d) || d.length !== 2 || typeof d[0] !== "string" || d[0].length > 128 || typeof d[1] !== "number" || !Number.isFinite(d[1])) {
      throw new MalformedMessageError("a moved actor has a malformed timer");
    }
  }
  if (a.part !== undefined && (!Array.isArray(a.part) || a.part.length !== 2 || !a.part.every((n: unknown) => Number.isInteger(n)))) {
    throw new MalformedMessageError("a moved actor's piece number is invalid");
  }
  return value as SerializedActor;
}
