/**
 * The bodies of the log's messages: a fixed binary prefix with the metadata that the subject
 * does not carry, then (for entries) the opaque payload. Reads validate every byte of the prefix
 * and skip anything else; nothing here throws on bad input (decoders return a reason instead).
 *
 *   entry   "BL" 0x01 kind(1: delta, 2: snapshot, 3: tombstone) epoch(f64 BE) seq(f64 BE) payload…
 *   piece   "BP" 0x01 kind epoch(f64 BE) seq(f64 BE) x(u16 BE) n(u16 BE) part of the payload…
 *   marker  "BM" 0x01 0x00 epoch(f64 BE) nodeLength(u16 BE) node(UTF-8)
 *
 * An entry too large for one message (above the server's max_payload) is stored as n pieces,
 * x = 0..n-1, on the entry's subject; reads join them (fold.ts) and see one entry.
 */

import type { LogEntry } from "./types.js";

export const ENTRY_HEADER_BYTES = 20;
export const PIECE_HEADER_BYTES = 24;
/** The most pieces a read accepts for one entry (writers stay far below: see NatsEventLog). */
export const MAX_PIECES = 4096;
const MARKER_HEADER_BYTES = 14;
export const MAX_NODE_CHARS = 128;
const KINDS = ["delta", "snapshot", "tombstone"] as const;
type Kind = (typeof KINDS)[number];
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function isValidEpoch(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

export function isValidSeq(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
}

export function isValidKind(v: unknown): v is Kind {
  return v === "delta" || v === "snapshot" || v === "tombstone";
}

const ENTRY_MAGIC = 0x4c; // "BL"
const PIECE_MAGIC = 0x50; // "BP"

/** Writes the head entries and pieces share — "B", magic, version 1, kind, epoch, seq — and returns a view of `out`. */
function writeHead(out: Uint8Array, magic: number, entry: LogEntry): DataView {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = 0x42; // B
  out[1] = magic;
  out[2] = 1;
  out[3] = KINDS.indexOf(entry.kind) + 1;
  view.setFloat64(4, entry.epoch);
  view.setFloat64(12, entry.seq);
  return view;
}

/** Reads that head from a body of at least `headerBytes`, or says why it is not one (`what`: "entry" or "piece"). */
function readHead(data: Uint8Array, magic: number, headerBytes: number, what: string): { readonly kind: Kind; readonly epoch: number; readonly seq: number; readonly view: DataView } | string {
  if (data.length < headerBytes) return `${what} shorter than its header`;
  if (data[0] !== 0x42 || data[1] !== magic) return `not ${what === "entry" ? "an" : "a"} ${what} (bad magic)`;
  if (data[2] !== 1) return `unknown ${what} version ${data[2]}`;
  const kind = KINDS[(data[3] ?? 0) - 1];
  if (kind === undefined) return `unknown ${what} kind ${data[3]}`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const epoch = view.getFloat64(4);
  const seq = view.getFloat64(12);
  if (!isValidEpoch(epoch)) return `${what} epoch out of range`;
  if (!isValidSeq(seq)) return `${what} seq out of range`;
  return { kind, epoch, seq, view };
}

export function encodeEntry(entry: LogEntry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER_BYTES + entry.payload.length);
  writeHead(out, ENTRY_MAGIC, entry);
  out.set(entry.payload, ENTRY_HEADER_BYTES);
  return out;
}

export interface DecodedEntry {
  readonly kind: Kind;
  readonly epoch: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** The entry in a message body, or a reason why it is not one. The payload is a view (no copy). */
export function decodeEntry(data: Uint8Array): DecodedEntry | string {
  const head = readHead(data, ENTRY_MAGIC, ENTRY_HEADER_BYTES, "entry");
  if (typeof head === "string") return head;
  return { kind: head.kind, epoch: head.epoch, seq: head.seq, payload: data.subarray(ENTRY_HEADER_BYTES) };
}

/** The pieces of an entry whose payload is split into parts of at most `partBytes`. */
export function encodePieces(entry: LogEntry, partBytes: number): Uint8Array[] {
  const n = Math.max(1, Math.ceil(entry.payload.length / partBytes));
  if (n > MAX_PIECES) throw new RangeError(`an entry of ${entry.payload.length} bytes needs more than ${MAX_PIECES} pieces`);
  const out: Uint8Array[] = [];
  for (let x = 0; x < n; x++) {
    const part = entry.payload.subarray(x * partBytes, (x + 1) * partBytes);
    const body = new Uint8Array(PIECE_HEADER_BYTES + part.length);
    const view = writeHead(body, PIECE_MAGIC, entry);
    view.setUint16(20, x);
    view.setUint16(22, n);
    body.set(part, PIECE_HEADER_BYTES);
    out.push(body);
  }
  return out;
}

export interface DecodedPiece extends DecodedEntry {
  readonly x: number;
  readonly n: number;
}

export function isPiece(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x42 && data[1] === PIECE_MAGIC;
}

/** The piece in a message body, or a reason why it is not one. `payload` is this piece's part (a view). */
export function decodePiece(data: Uint8Array): DecodedPiece | string {
  const head = readHead(data, PIECE_MAGIC, PIECE_HEADER_BYTES, "piece");
  if (typeof head === "string") return head;
  if (head.kind === "tombstone") return "a piece cannot be of a tombstone";
  const x = head.view.getUint16(20);
  const n = head.view.getUint16(22);
  if (n < 2 || n > MAX_PIECES || x >= n) return `piece ${x} of ${n} is out of range`;
  return { kind: head.kind, epoch: head.epoch, seq: head.seq, x, n, payload: data.subarray(PIECE_HEADER_BYTES) };
}

export function encodeMarker(epoch: number, node: string): Uint8Array {
  const nodeBytes = Buffer.from(node, "utf8");
  const out = new Uint8Array(MARKER_HEADER_BYTES + nodeBytes.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = 0x42; // B
  out[1] = 0x4d; // M
  out[2] = 1;
  out[3] = 0;
  view.setFloat64(4, epoch);
  view.setUint16(12, nodeBytes.length);
  out.set(nodeBytes, MARKER_HEADER_BYTES);
  return out;
}

/** The marker in a message body, or a reason why it is not one. */
export function decodeMarker(data: Uint8Array): { readonly epoch: number; readonly node: string } | string {
  if (data.length < MARKER_HEADER_BYTES) return "marker shorter than its header";
  if (data[0] !== 0x42 || data[1] !== 0x4d) return "not a marker (bad magic)";
  if (data[2] !== 1 || data[3] !== 0) return `unknown marker version ${data[2]}`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const epoch = view.getFloat64(4);
  if (!isValidEpoch(epoch)) return "marker epoch out of range";
  const len = view.getUint16(12);
  if (len === 0 || MARKER_HEADER_BYTES + len !== data.length) return "marker node length mismatch";
  let node: string;
  try {
    node = utf8.decode(data.subarray(MARKER_HEADER_BYTES));
  } catch {
    return "marker node is not UTF-8";
  }
  if (node.length > MAX_NODE_CHARS) return "marker node too long";
  return { epoch, node };
}
