import { MalformedMessageError } from "../errors.js";
import { checkRecord, type ActorRecord, type CallOutcome, type TimerRecord } from "../actor/record.js";
import type { Delta } from "../state/delta.js";

/**
 * What an owner ships to a backup for one actor: a delta on top of the previous sequence, a
 * full record (when the backup has none or fell behind), or a tombstone.
 */
export type ReplItem =
  | {
      readonly k: "d";
      /** Partition, actor type, actor id. */
      readonly p: number;
      readonly t: string;
      readonly i: string;
      /** The actor's replication sequence after this turn. */
      readonly s: number;
      readonly d: Delta;
      /** Timers, when the turn changed them. */
      readonly tm?: readonly TimerRecord[];
      readonly ts?: number;
      /** The call outcome recorded by the turn. */
      readonly c?: CallOutcome;
      readonly lu: number;
    }
  | { readonly k: "f"; readonly p: number; readonly t: string; readonly i: string; readonly s: number; readonly r: ActorRecord }
  | { readonly k: "x"; readonly p: number; readonly t: string; readonly i: string; readonly s: number };

/**
 * A backup's answer to a batch: it holds every item of the batch except those of the actors in
 * `needFull` (no copy, or a gap in the sequence: the owner resends them in full). A backup that
 * refuses the batch altogether (the sender is not a member) says why in `rejected` and holds
 * nothing of it. No per-item list: the owner knows what it sent.
 */
export interface ReplReply {
  readonly needFull: readonly string[];
  readonly rejected?: "not-a-member";
}

export { checkRecord };

/** `type/id`: how actors are keyed in replication. */
export function actorKey(type: string, id: string): string {
  return `${type}/${id}`;
}

const MAX_ITEMS = 10_000;

/** Validates the items of a replication message (already decoded from the wire). */
export function checkItems(value: unknown): ReplItem[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw new MalformedMessageError(`replication items must be a list of at most ${MAX_ITEMS}`);
  for (const it of value) {
    if (typeof it !== "object" || it === null) throw new MalformedMessageError("replication item must be an object");
    const o = it as Record<string, unknown>;
    if (o.k !== "d" && o.k !== "f" && o.k !== "x") throw new MalformedMessageError("replication item kind must be d, f or x");
    if (!Number.isInteger(o.p) || (o.p as number) < 0 || (o.p as number) > 65535) throw new MalformedMessageError("replication item partition is invalid");
    if (typeof o.t !== "string" || o.t.length === 0 || o.t.length > 64) throw new MalformedMessageError("replication item type is invalid");
    if (typeof o.i !== "string" || o.i.length === 0 || o.i.length > 256) throw new MalformedMessageError("replication item id is invalid");
    if (!Number.isInteger(o.s) || (o.s as number) < 0) throw new MalformedMessageError("replication item sequence is invalid");
    if (o.k === "d" && !Array.isArray(o.d)) throw new MalformedMessageError("replication delta must be a list of operations");
    if (o.k === "f") checkRecord(o.r);
  }
  return value as ReplItem[];
}
