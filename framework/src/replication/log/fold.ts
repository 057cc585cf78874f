import { decodeEntry, decodeMarker, decodePiece, isPiece, type DecodedEntry, type DecodedPiece } from "./codec.js";
import { parseSubject } from "./subjects.js";
import type { StoredEntry } from "./types.js";

/** A message of the stream as a read delivers it. */
export interface RawMessage {
  readonly subject: string;
  readonly streamSeq: number;
  readonly data: Uint8Array;
}

/**
 * Folds one partition's messages, in stream order, into each actor's live history. Works
 * online (nothing before an actor's last snapshot is kept) because fencing only looks back:
 * an entry is valid iff its epoch is at least the highest epoch of the partition's markers
 * seen before it. Anything that is not a well-formed entry or marker of this partition is
 * skipped and counted; nothing here throws on data.
 *
 * An actor's deltas are ordered by sequence, not by where they landed: an append retried
 * through a leader election can land after its successors. A snapshot or tombstone supersedes
 * every entry at or below its (epoch, seq), compared epoch first, wherever that entry landed:
 * an entry of an older epoch after a newer owner's snapshot is a deposed owner's, like those a
 * takeover marker fences (a new owner's first append of each actor is a snapshot).
 */
export class PartitionFold {
  malformed = 0;
  fenced = 0;
  /** Entries of actors beyond `maxActors`, skipped. */
  dropped = 0;
  /** The first reason something was malformed, for the log. */
  firstProblem: string | undefined;
  private fence = 0;
  private readonly actors = new Map<string, History>();

  constructor(
    private readonly prefix: string,
    private readonly partition: number,
    private readonly maxActors: number,
  ) {}

  add(msg: RawMessage): void {
    const parsed = parseSubject(msg.subject, this.prefix);
    if (parsed === null) return this.bad(`unexpected subject ${msg.subject.slice(0, 200)}`);
    if (parsed.partition !== this.partition) return this.bad(`subject of another partition: ${msg.subject.slice(0, 200)}`);
    if (parsed.kind === "marker") {
      const marker = decodeMarker(msg.data);
      if (typeof marker === "string") return this.bad(`${marker} (stream seq ${msg.streamSeq})`);
      if (marker.epoch > this.fence) this.fence = marker.epoch;
      return;
    }
    const piece = isPiece(msg.data) ? decodePiece(msg.data) : null;
    const entry = piece ?? decodeEntry(msg.data);
    if (typeof entry === "string") return this.bad(`${entry} (stream seq ${msg.streamSeq})`);
    if (entry.epoch < this.fence) {
      this.fenced++;
      return;
    }
    const key = `${parsed.actorType}/${parsed.actorId}`;
    let actor = this.actors.get(key);
    if (actor === undefined) {
      if (this.actors.size >= this.maxActors) {
        this.dropped++;
        return;
      }
      actor = { entries: [], floorEpoch: -1, floorSeq: 0, open: null };
      this.actors.set(key, actor);
    }
    if (!above(entry, actor.floorEpoch, actor.floorSeq)) return; // superseded by a snapshot or tombstone already read
    let whole: DecodedEntry = entry;
    if (piece !== null && typeof piece !== "string") {
      const joined = this.join(actor, piece, msg.streamSeq);
      if (joined === null) return;
      whole = joined;
    }
    if (whole.kind === "tombstone") {
      raiseFloor(actor, whole.epoch, whole.seq);
      return;
    }
    const stored: StoredEntry = {
      kind: whole.kind,
      actorType: parsed.actorType,
      actorId: parsed.actorId,
      partition: parsed.partition,
      epoch: whole.epoch,
      seq: whole.seq,
      payload: piece === null ? whole.payload.slice() : whole.payload,
      streamSeq: msg.streamSeq,
    };
    if (whole.kind === "snapshot") {
      raiseFloor(actor, whole.epoch, whole.seq);
      actor.entries.unshift(stored);
    } else actor.entries.push(stored);
  }

  /** Adds a piece; returns the whole entry once every piece is in (they may land in any order), else null. */
  private join(actor: History, piece: DecodedPiece, streamSeq: number): DecodedEntry | null {
    const id = `${piece.epoch}:${piece.seq}`;
    actor.open ??= new Map();
    let open = actor.open.get(id);
    if (open === undefined) {
      open = { kind: piece.kind, epoch: piece.epoch, seq: piece.seq, n: piece.n, parts: new Array<Uint8Array | undefined>(piece.n), got: 0 };
      actor.open.set(id, open);
      // An entry whose other pieces never come (its writer died mid-way) is forgotten eventually.
      if (actor.open.size > MAX_OPEN_PER_ACTOR) actor.open.delete(actor.open.keys().next().value as string);
    }
    if (open.n !== piece.n || open.kind !== piece.kind) {
      this.bad(`piece ${piece.x} of ${piece.n} does not match the other pieces of seq ${piece.seq} (stream seq ${streamSeq})`);
      return null;
    }
    if (open.parts[piece.x] !== undefined) return null; // stored twice (a retry outside the dedupe window)
    open.parts[piece.x] = piece.payload.slice();
    if (++open.got < open.n) return null;
    actor.open.delete(id);
    return { kind: piece.kind, epoch: piece.epoch, seq: piece.seq, payload: Buffer.concat(open.parts as Uint8Array[]) };
  }

  /**
   * Each live actor's entries: its snapshot first (if one was read), then its deltas by
   * sequence (epoch breaking ties). Actors whose history ended with a tombstone are omitted.
   */
  result(): Map<string, StoredEntry[]> {
    const out = new Map<string, StoredEntry[]>();
    for (const [key, actor] of this.actors) {
      if (actor.entries.length === 0) continue;
      out.set(key, actor.entries.sort((a, b) => (a.kind === "snapshot" ? -1 : b.kind === "snapshot" ? 1 : a.seq - b.seq || a.epoch - b.epoch)));
    }
    return out;
  }

  private bad(reason: string): void {
    this.malformed++;
    this.firstProblem ??= reason;
  }
}

/** An actor's entries above its floor: the (epoch, seq) of the latest snapshot or tombstone read. */
interface History {
  entries: StoredEntry[];
  floorEpoch: number;
  floorSeq: number;
  /** Entries stored in pieces, by `epoch:seq`, while some of their pieces are still to come. */
  open: Map<string, OpenEntry> | null;
}

interface OpenEntry {
  readonly kind: DecodedEntry["kind"];
  readonly epoch: number;
  readonly seq: number;
  readonly n: number;
  readonly parts: Array<Uint8Array | undefined>;
  got: number;
}

/** Entries in pieces one actor may have open at once (one is being written at a time). */
const MAX_OPEN_PER_ACTOR = 4;

function above(e: { readonly epoch: number; readonly seq: number }, epoch: number, seq: number): boolean {
  return e.epoch > epoch || (e.epoch === epoch && e.seq > seq);
}

/** Moves the floor up to (epoch, seq) and drops the entries at or below it. */
function raiseFloor(h: History, epoch: number, seq: number): void {
  h.floorEpoch = epoch;
  h.floorSeq = seq;
  h.entries = h.entries.filter((e) => above(e, epoch, seq));
  if (h.open !== null) for (const [id, open] of h.open) if (!above(open, epoch, seq)) h.open.delete(id);
}
