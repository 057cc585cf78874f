/**
 * The bodies of the log's messages: a fixed binary prefix with the metadata that the subject
 * does not carry, then (for entries) the opaque payload. Reads validate every byte of the prefix
 * and skip anything else; nothing here throws on bad input (decoders return a reason instead).
 *
 *   entry   "BL" 0x01 kind(1: delta, 2: snapshot, 3: tombstone) epoch(f64 BE) seq(f64 BE) payload…
 *   marker  "BM" 0x01 0x00 epoch(f64 BE) nodeLength(u16 BE) node(UTF-8)
 */

import type { LogEntry } from "./types.js";

export const ENTRY_HEADER_BYTES = 20;
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

export function encodeEntry(entry: LogEntry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER_BYTES + entry.payload.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = 0x42; // B
  out[1] = 0x4c; // L
  out[2] = 1;
  out[3] = KINDS.indexOf(entry.kind) + 1;
  view.setFloat64(4, entry.epoch);
  view.setFloat64(12, entry.seq);
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
  if (data.length < ENTRY_HEADER_BYTES) return "entry shorter than its header";
  if (data[0] !== 0x42 || data[1] !== 0x4c) return "not an entry (bad magic)";
  if (data[2] !== 1) return `unknown entry version ${data[2]}`;
  const kind = KINDS[(data[3] ?? 0) - 1];
  if (kind === undefined) return `unknown entry kind ${data[3]}`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const epoch = view.getFloat64(4);
  const seq = view.getFloat64(12);
  if (!isValidEpoch(epoch)) return "entry epoch out of range";
  if (!isValidSeq(seq)) return "entry seq out of range";
  return { kind, epoch, seq, payload: data.subarray(ENTRY_HEADER_BYTES) };
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
