import { MalformedMessageError } from "../../errors.js";

/**
 * The batch frame of the NATS transport: several requests to one node, or several replies to
 * one caller, ready in the same event-loop turn, travel as one NATS message. Binary, bounded:
 *
 *   0x00 0x42 0x01 | u16 count | count × ( u8 idLength | id (ASCII) | u32 length | payload )
 *
 * Call frames are UTF-8 text that never starts with 0x00, so the first byte tells them apart.
 */

export interface BatchItem {
  readonly id: string;
  readonly payload: Uint8Array;
}

/** Most items in one batch. */
export const MAX_BATCH_ITEMS = 256;

export function isBatch(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x00 && bytes[1] === 0x42;
}

/** Bytes `items` take in a batch frame (header excluded). */
export function itemSize(item: BatchItem): number {
  return 1 + item.id.length + 4 + item.payload.length;
}

export const BATCH_HEADER = 5;

export function encodeBatch(items: readonly BatchItem[]): Uint8Array {
  let size = BATCH_HEADER;
  for (const it of items) size += itemSize(it);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x00;
  out[1] = 0x42;
  out[2] = 0x01;
  out.writeUInt16BE(items.length, 3);
  let at = BATCH_HEADER;
  for (const it of items) {
    out[at++] = it.id.length;
    at += out.write(it.id, at, "latin1");
    out.writeUInt32BE(it.payload.length, at);
    at += 4;
    out.set(it.payload, at);
    at += it.payload.length;
  }
  return out;
}

/** Decodes a batch frame, validating every length. Payloads are views into `bytes`. */
export function decodeBatch(bytes: Uint8Array, limit: number): BatchItem[] {
  if (bytes.length > limit) throw new MalformedMessageError(`batch of ${bytes.length} bytes exceeds ${limit}`);
  if (!isBatch(bytes) || bytes[2] !== 0x01) throw new MalformedMessageError("not a version 1 batch frame");
  if (bytes.length < BATCH_HEADER) throw new MalformedMessageError("batch frame is truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint16(3);
  if (count === 0 || count > MAX_BATCH_ITEMS) throw new MalformedMessageError(`batch must hold 1 to ${MAX_BATCH_ITEMS} items`);
  const items: BatchItem[] = [];
  let at = BATCH_HEADER;
  for (let i = 0; i < count; i++) {
    if (at + 1 > bytes.length) throw new MalformedMessageError("batch item is truncated");
    const idLength = bytes[at++] as number;
    if (idLength === 0 || at + idLength + 4 > bytes.length) throw new MalformedMessageError("batch item id is truncated");
    let id = "";
    for (let j = 0; j < idLength; j++) {
      const c = bytes[at + j] as number;
      if (c < 0x21 || c > 0x7e || c === 0x2e) throw new MalformedMessageError("batch item id must be printable ASCII without dots");
      id += String.fromCharCode(c);
    }
    at += idLength;
    const length = view.getUint32(at);
    at += 4;
    if (at + length > bytes.length) throw new MalformedMessageError("batch item payload is truncated");
    items.push({ id, payload: bytes.subarray(at, at + length) });
    at += length;
  }
  if (at !== bytes.length) throw new MalformedMessageError("batch frame has trailing bytes");
  return items;
}
