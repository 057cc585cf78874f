import { MalformedMessageError } from "../errors.js";
import type { CallOutcome, TimerRecord } from "../actor/record.js";
import type { DeltaOp, PathSegment } from "../state/delta.js";
import { packValue, unpackValue } from "../transport/wire.js";
import { checkItem, type ReplItem } from "./items.js";

/**
 * Replication items on the wire. Each item is encoded once, when it is queued (shared by every
 * backup it goes to), as a JSON array of its fields in a fixed order — no keys: a backup parses
 * every item of every write, and V8 interns every key it parses, so keyed objects cost it about
 * twice the time and the wire three times the bytes. When a user value in the item needs
 * superjson (a Date, a Map, `undefined`), the array travels as superjson's `{ j, m }` instead.
 *
 *   delta      ["d", p, type, id, seq, lastUsed, ops, call, timers, timerSeq]   (the last three may be cut off when absent; absent inside is 0)
 *   full       ["f", p, type, id, seq, record]
 *   tombstone  ["x", p, type, id, seq]
 *   piece      ["fp", p, type, id, seq, x, n, text]
 *   op         [0, path, value] set · [1, path] del · [2, path, values] push
 *   call       [callId, at - lastUsed, ok ? 1 : 0, value?]
 *
 * A batch message joins the encoded items without encoding them again, up to a budget that keeps
 * it under the server's `max_payload`. An item larger than `PIECE_CHARS` — a turn that changed a
 * lot, or the full record of a large actor — is cut into pieces, each its own item, that the
 * backup joins before applying (BackupStore). Without that, one large actor stalled replication
 * to its backup for every actor behind it: the batch was refused by the server, resent forever.
 */

/** Characters of encoded item per piece. A JSON character is at most 3 bytes of UTF-8. */
export const PIECE_CHARS = 128 * 1024;

/** An encoded item, or a piece of one (`partial` for every piece but the last). */
export interface WireItem {
  readonly text: string;
  readonly partial: boolean;
}

const OP_CODES = { set: 0, del: 1, push: 2 } as const;

/** Encodes an item, cut into pieces if it is larger than `pieceChars`. */
export function encodeItem(item: ReplItem, pieceChars = PIECE_CHARS): WireItem[] {
  // The bare array when it is plain JSON; else superjson's packed `{ j, m }` of it.
  const packed = packValue(toTuple(item)) as { j: unknown; m?: unknown };
  const text = JSON.stringify(packed.m === undefined ? packed.j : packed);
  if (text.length <= pieceChars) return [{ text, partial: false }];
  const n = Math.ceil(text.length / pieceChars);
  const out: WireItem[] = [];
  for (let x = 0; x < n; x++) {
    const piece: ReplItem = { k: "fp", p: item.p, t: item.t, i: item.i, s: item.s, x, n, d: text.slice(x * pieceChars, (x + 1) * pieceChars) };
    out.push({ text: JSON.stringify(toTuple(piece)), partial: x < n - 1 });
  }
  return out;
}

/** Characters of items one batch message may carry: `max_payload` at 3 bytes a character, less the envelope. */
export function batchBudget(maxPayload: number): number {
  return Math.max(PIECE_CHARS, Math.floor((maxPayload - 1024) / 3));
}

const MAX_ITEMS = 10_000;

/** Validates the items of a replication message, as they came off the wire (each one parsed JSON of `encodeItem`). */
export function checkItems(value: unknown): ReplItem[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw new MalformedMessageError(`replication items must be a list of at most ${MAX_ITEMS}`);
  return value.map(decodeItem);
}

/** Decodes and validates one item from its parsed wire form. */
export function decodeItem(wire: unknown): ReplItem {
  const tuple = Array.isArray(wire) ? wire : unpackValue(wire, "replication item");
  if (!Array.isArray(tuple)) throw new MalformedMessageError("replication item must be an array");
  return checkItem(fromTuple(tuple as unknown[]));
}

function toTuple(item: ReplItem): unknown[] {
  switch (item.k) {
    case "d": {
      const ops = item.d.map((op) => (op.op === "set" ? [OP_CODES.set, op.path, op.value] : op.op === "del" ? [OP_CODES.del, op.path] : [OP_CODES.push, op.path, op.values]));
      const c = item.c;
      const call = c === undefined ? 0 : c.value !== undefined ? [c.id, c.at - item.lu, c.ok ? 1 : 0, c.value] : [c.id, c.at - item.lu, c.ok ? 1 : 0];
      const t: unknown[] = ["d", item.p, item.t, item.i, item.s, item.lu, ops];
      if (item.tm !== undefined || item.ts !== undefined) t.push(call, item.tm ?? 0, item.ts ?? 0);
      else if (c !== undefined) t.push(call);
      return t;
    }
    case "f":
      return ["f", item.p, item.t, item.i, item.s, item.r];
    case "x":
      return ["x", item.p, item.t, item.i, item.s];
    case "fp":
      return ["fp", item.p, item.t, item.i, item.s, item.x, item.n, item.d];
  }
}

/** The item object of a tuple; `checkItem` validates the common fields after. */
function fromTuple(t: unknown[]): unknown {
  const [k, p, type, id, s] = t;
  switch (k) {
    case "d": {
      if (t.length < 7 || t.length > 10) throw new MalformedMessageError("replication delta item has the wrong number of fields");
      const lu = t[5];
      if (typeof lu !== "number" || !Number.isFinite(lu)) throw new MalformedMessageError("replication delta lastUsed must be a number");
      const item: Record<string, unknown> = { k, p, t: type, i: id, s, d: decodeOps(t[6]), lu };
      if (t.length > 7 && t[7] !== 0) item.c = decodeCall(t[7], lu);
      if (t.length > 8 && t[8] !== 0) {
        if (!Array.isArray(t[8])) throw new MalformedMessageError("replication delta timers must be a list");
        item.tm = t[8] as TimerRecord[];
      }
      if (t.length > 9 && t[9] !== 0) {
        if (!Number.isInteger(t[9])) throw new MalformedMessageError("replication delta timer sequence must be an integer");
        item.ts = t[9];
      }
      return item;
    }
    case "f":
      if (t.length !== 6) throw new MalformedMessageError("replication full item has the wrong number of fields");
      return { k, p, t: type, i: id, s, r: t[5] };
    case "x":
      if (t.length !== 5) throw new MalformedMessageError("replication tombstone has the wrong number of fields");
      return { k, p, t: type, i: id, s };
    case "fp":
      if (t.length !== 8) throw new MalformedMessageError("replication item piece has the wrong number of fields");
      return { k, p, t: type, i: id, s, x: t[5], n: t[6], d: t[7] };
    default:
      throw new MalformedMessageError("replication item kind must be d, f, x or fp");
  }
}

const MAX_OPS = 100_000;
const MAX_PATH = 64;

function decodeOps(raw: unknown): DeltaOp[] {
  if (!Array.isArray(raw) || raw.length > MAX_OPS) throw new MalformedMessageError(`replication delta must be a list of at most ${MAX_OPS} operations`);
  const ops = new Array<DeltaOp>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const op = raw[i] as unknown;
    if (!Array.isArray(op)) throw new MalformedMessageError("replication delta operation must be a list");
    const path = decodePath(op[1]);
    if (op[0] === OP_CODES.set && op.length === 3) ops[i] = { op: "set", path, value: op[2] };
    else if (op[0] === OP_CODES.del && op.length === 2) ops[i] = { op: "del", path };
    else if (op[0] === OP_CODES.push && op.length === 3 && Array.isArray(op[2])) ops[i] = { op: "push", path, values: op[2] as unknown[] };
    else throw new MalformedMessageError("replication delta operation is malformed");
  }
  return ops;
}

function decodePath(raw: unknown): PathSegment[] {
  if (!Array.isArray(raw) || raw.length > MAX_PATH) throw new MalformedMessageError(`replication delta path must be a list of at most ${MAX_PATH} steps`);
  for (const seg of raw) if (typeof seg !== "string" && typeof seg !== "number") throw new MalformedMessageError("replication delta path steps must be strings or numbers");
  return raw as PathSegment[];
}

function decodeCall(raw: unknown, lu: number): CallOutcome {
  if (!Array.isArray(raw) || raw.length < 3 || raw.length > 4) throw new MalformedMessageError("replication call outcome is malformed");
  const [id, at, ok] = raw as unknown[];
  if (typeof id !== "string" || id.length === 0 || id.length > 64) throw new MalformedMessageError("replication call outcome id is invalid");
  if (typeof at !== "number" || !Number.isFinite(at)) throw new MalformedMessageError("replication call outcome time is invalid");
  if (ok !== 0 && ok !== 1) throw new MalformedMessageError("replication call outcome ok must be 0 or 1");
  return raw.length === 4 ? { id, at: lu + at, ok: ok === 1, value: raw[3] } : { id, at: lu + at, ok: ok === 1 };
}
