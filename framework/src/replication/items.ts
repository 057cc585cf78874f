import type { ActorRecord, CallOutcome, TimerRecord } from "../actor/record.js";
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
  | { readonly k: "x"; readonly p: number; readonly t: string; readonly i: string; readonly s: number }
  /**
   * A piece of an item too large for one message (see itemWire.ts): `x` of `n`, `d` a slice of
   * the item's encoded text. The backup joins the pieces and applies the item.
   */
  | { readonly k: "fp"; readonly p: number; readonly t: string; readonly i: string; readonly s: number; readonly x: number; readonly n: number; readonly d: string };

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

/** `type/id`: how actors are keyed in replication. */
export function actorKey(type: string, id: string): string {
  return `${type}/${id}`;
}

/** The type and id of an `actorKey` (a type name has no `/`; an id may). */
export function splitActorKey(key: string): { readonly type: string; readonly id: string } {
  const slash = key.indexOf("/");
  return { type: key.slice(0, slash), id: key.slice(slash + 1) };
}

/** The most pieces one item may be cut into (bounds what a peer can make a backup buffer). */
export const MAX_PIECES = 512;
