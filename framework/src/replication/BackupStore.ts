import { keepOutcome } from "../actor/callIds.js";
import type { ActorEntry, ActorRecord, CallOutcome, TimerRecord } from "../actor/record.js";
import { applyDelta } from "../state/delta.js";
import { copyValue } from "../state/walk.js";
import { actorKey, MAX_PIECES, type ReplItem, type ReplReply } from "./items.js";
import { decodeItem, PIECE_CHARS } from "./itemWire.js";
import { detached } from "../transport/wire.js";

interface Copy {
  readonly type: string;
  readonly id: string;
  state: unknown;
  timers: readonly TimerRecord[];
  timerSeq: number;
  lastUsed: number;
  calls: CallOutcome[];
  callsForgotten: number | undefined;
  seq: number;
  /** The sender's view epoch when the copy was last written (backup reads trust only recent ones). */
  epoch: number;
  /** The last delta did not follow on: the copy waits for a full record and must not answer reads. */
  behind: boolean;
  /**
   * Held since this node was removed from the view while alive (ms), else 0: the copy may have
   * missed what happened since. It answers no read, takes no delta (only a full record makes it
   * current again), and a recovery uses it only for an actor of which no current copy is left.
   */
  staleSince: number;
}

/** What a backup read may look at: a hot copy, as the store holds it (never to be changed). */
export interface CopyView {
  readonly state: unknown;
  readonly seq: number;
  readonly epoch: number;
  readonly behind: boolean;
}

/** Items being joined from pieces at once (one per actor; the owner sends one at a time per backup). */
const MAX_OPEN_ITEMS = 64;
/**
 * Characters held in pieces of unfinished items, all together: two items of the most pieces
 * an item may have (`MAX_PIECES` × `PIECE_CHARS`). Beyond it the oldest unfinished items go
 * (their owners resend them in full), so pieces that never finish cannot fill the heap.
 */
export const MAX_OPEN_CHARS = 2 * MAX_PIECES * PIECE_CHARS;

/**
 * Hot copies of other nodes' actors, per partition: applied deltas, ready to take over
 * without replay. Memory only, like the owner's state.
 */
export class BackupStore {
  private readonly parts = new Map<number, Map<string, Copy>>();
  /** Items arriving in pieces, by actor key: the pieces so far (they come in order). */
  private readonly pieces = new Map<string, { readonly s: number; readonly n: number; readonly d: string[]; chars: number }>();
  /** Characters in `pieces`. */
  private openChars = 0;

  /**
   * Adds a piece; returns the whole item once its last piece is in, else null. A piece out of
   * order (a resend after a lost reply starts again from piece 0) restarts or drops the item;
   * a joined text that does not decode asks for the full record.
   */
  private join(piece: Extract<ReplItem, { k: "fp" }>, needFull: string[]): ReplItem | null {
    const key = actorKey(piece.t, piece.i);
    let open = this.pieces.get(key);
    if (piece.x === 0) {
      this.closePieces(key);
      open = { s: piece.s, n: piece.n, d: [], chars: 0 };
      this.pieces.set(key, open);
      if (this.pieces.size > MAX_OPEN_ITEMS) this.closePieces(this.pieces.keys().next().value as string);
    }
    if (open === undefined || open.s !== piece.s || open.n !== piece.n || open.d.length !== piece.x) {
      if (open !== undefined && open.s === piece.s && piece.x < open.d.length) return null; // a resent piece we hold
      this.closePieces(key);
      needFull.push(key);
      return null;
    }
    open.d.push(piece.d);
    open.chars += piece.d.length;
    this.openChars += piece.d.length;
    // The oldest unfinished items go first; this one, if it alone is too large, too.
    for (const [k] of this.pieces) {
      if (this.openChars <= MAX_OPEN_CHARS) break;
      this.closePieces(k);
      if (k === key) {
        needFull.push(key);
        return null;
      }
    }
    if (open.d.length < open.n) return null;
    this.closePieces(key);
    try {
      const item = decodeItem(open.d.join(""));
      if (item.k === "fp" || item.t !== piece.t || item.i !== piece.i || item.s !== piece.s || item.p !== piece.p) throw new Error("pieces of another item");
      return item;
    } catch {
      needFull.push(key);
      return null;
    }
  }

  /** Forgets an unfinished item's pieces. */
  private closePieces(key: string): void {
    const open = this.pieces.get(key);
    if (open === undefined) return;
    this.openChars -= open.chars;
    this.pieces.delete(key);
  }

  /** Characters held in pieces of unfinished items (bounded by `MAX_OPEN_CHARS`). */
  get piecesChars(): number {
    return this.openChars;
  }

  /**
   * Applies items in order. Idempotent: an item at or below the held sequence is held already.
   * Returns the actors it needs a full record of (no copy, or a gap in the sequence); every
   * other item is held.
   * @param epoch the sender's view epoch, stamped on the copies written
   */
  apply(items: readonly ReplItem[], epoch = 0): ReplReply {
    const needFull: string[] = [];
    for (const received of items) {
      const item = received.k === "fp" ? this.join(received, needFull) : received;
      if (item === null) continue;
      const key = actorKey(item.t, item.i);
      let part = this.parts.get(item.p);
      if (part === undefined) this.parts.set(item.p, (part = new Map()));
      const copy = part.get(key);
      switch (item.k) {
        case "fp":
          break; // joined above
        case "x":
          part.delete(key);
          break;
        case "f":
          // Kept: the type and id are not to be views into the whole batch's text.
          if (copy === undefined || copy.staleSince > 0 || item.s >= copy.seq) part.set(key, fromRecord(copy?.type ?? detached(item.t), copy?.id ?? detached(item.i), item.r, epoch));
          break;
        case "d": {
          if (copy !== undefined && copy.staleSince > 0) {
            needFull.push(key); // a stale copy follows on from nothing it can trust
            break;
          }
          if (copy !== undefined && item.s <= copy.seq) break; // already held (a resend, or a full record overtook it)
          if (copy === undefined || item.s !== copy.seq + 1) {
            if (copy !== undefined) copy.behind = true;
            needFull.push(key);
            break;
          }
          try {
            copy.state = applyDelta(copy.state, item.d);
          } catch {
            part.delete(key); // the copy diverged: start over from a full record
            needFull.push(key);
            break;
          }
          if (item.tm !== undefined) copy.timers = item.tm;
          if (item.ts !== undefined) copy.timerSeq = item.ts;
          if (item.c !== undefined) {
            copy.callsForgotten = keepOutcome(copy.calls, item.c, copy.callsForgotten);
          }
          copy.lastUsed = item.lu;
          copy.seq = item.s;
          copy.epoch = epoch;
          copy.behind = false;
          break;
        }
      }
    }
    return { needFull: needFull.length > 1 ? [...new Set(needFull)] : needFull };
  }

  /** The copy of one actor, without copying it (for backup reads, which copy what they use). */
  peek(partition: number, type: string, id: string): CopyView | undefined {
    return this.parts.get(partition)?.get(actorKey(type, id));
  }

  /** The copies of a partition, as records (copies: the store keeps its own); stale ones say so. */
  entries(partition: number): ActorEntry[] {
    const part = this.parts.get(partition);
    if (part === undefined) return [];
    return [...part.values()].map((c) => ({ type: c.type, id: c.id, record: toRecord(c), ...(c.staleSince > 0 ? { stale: true } : {}) }));
  }

  /**
   * This node was removed from the view while alive: every copy here, and the records of the
   * actors it owned (`owned`, by partition), become stale copies — the last resort of a
   * recovery that finds nothing current (every copy-holder was removed at once: all of them
   * stalled, a paused VM). They go after `staleMs` (see `dropStale`).
   */
  demote(owned: ReadonlyArray<{ readonly partition: number; readonly entries: readonly ActorEntry[] }>, now: number): void {
    for (const part of this.parts.values()) {
      for (const c of part.values()) {
        if (c.staleSince === 0) c.staleSince = now;
        c.behind = true;
      }
    }
    for (const { partition, entries } of owned) {
      let part = this.parts.get(partition);
      if (part === undefined) this.parts.set(partition, (part = new Map()));
      for (const e of entries) part.set(actorKey(e.type, e.id), { ...fromRecord(e.type, e.id, e.record, 0), behind: true, staleSince: now });
    }
  }

  /** Drops stale copies held longer than `staleMs`. */
  dropStale(now: number, staleMs: number): void {
    for (const [p, part] of this.parts) {
      for (const [key, c] of part) if (c.staleSince > 0 && now - c.staleSince > staleMs) part.delete(key);
      if (part.size === 0) this.parts.delete(p);
    }
  }

  /** Removes and returns a partition's copies (this node takes the partition over). */
  take(partition: number): ActorEntry[] {
    const out = this.entries(partition);
    this.parts.delete(partition);
    return out;
  }

  drop(partition: number): void {
    this.parts.delete(partition);
  }

  /** Partitions with at least one copy. */
  partitions(): number[] {
    return [...this.parts.keys()].filter((p) => (this.parts.get(p)?.size ?? 0) > 0);
  }

  /** Number of copies held. */
  get size(): number {
    let n = 0;
    for (const part of this.parts.values()) n += part.size;
    return n;
  }
}

function fromRecord(type: string, id: string, r: ActorRecord, epoch: number): Copy {
  return { type, id, state: r.state, timers: r.timers, timerSeq: r.timerSeq, lastUsed: r.lastUsed, calls: [...(r.calls ?? [])], callsForgotten: r.callsForgotten, seq: r.seq ?? 0, epoch, behind: false, staleSince: 0 };
}

function toRecord(c: Copy): ActorRecord {
  // The record leaves the store (serialized or installed): give it a state nobody else mutates.
  return { state: copyValue(c.state, "backup state"), timers: c.timers, timerSeq: c.timerSeq, lastUsed: c.lastUsed, calls: [...c.calls], seq: c.seq, ...(c.callsForgotten !== undefined ? { callsForgotten: c.callsForgotten } : {}) };
}
