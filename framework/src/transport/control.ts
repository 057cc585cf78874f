import { MalformedMessageError, PayloadTooLargeError } from "../errors.js";
import { parse, stringify } from "../state/serializer.js";
import { fromWireError, toWireError, type WireError } from "./wireErrors.js";
import type { Transport } from "./types.js";
import { DEFAULT_MAX_PAYLOAD } from "./wire.js";

/**
 * Control messages between nodes — replication, partition transfers, recovery — beside calls
 * on the same subscription. Frames: "X1" + superjson of `{ op, ... }`; replies "Y1" + superjson
 * of `{ ok, r }` or `{ ok: false, e }`. Each op's handler validates its own fields.
 */

export interface ControlMessage {
  readonly op: string;
  readonly [field: string]: unknown;
}

const OPS = /^[a-z][a-zA-Z]{0,31}$/;

export function isControlFrame(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x58 /* X */ && bytes[1] === 0x31;
}

function toBytes(text: string, limit: number, what: string): Uint8Array {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, what);
  return bytes;
}

export function encodeControl(msg: ControlMessage, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  return toBytes(`X1${stringify(msg)}`, limit, `control message ${msg.op}`);
}

export function decodeControl(bytes: Uint8Array, limit = DEFAULT_MAX_PAYLOAD): ControlMessage {
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, "control message");
  let value: unknown;
  try {
    value = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", 2));
  } catch {
    throw new MalformedMessageError("control message is not valid superjson");
  }
  if (typeof value !== "object" || value === null || typeof (value as { op?: unknown }).op !== "string" || !OPS.test((value as { op: string }).op)) {
    throw new MalformedMessageError("control message needs an op");
  }
  return value as ControlMessage;
}

export function encodeControlReply(result: unknown, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  try {
    return toBytes(`Y1${stringify({ ok: true, r: result })}`, limit, "control reply");
  } catch (error) {
    return encodeControlError(error, limit);
  }
}

export function encodeControlError(error: unknown, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  return toBytes(`Y1${stringify({ ok: false, e: toWireError(error) })}`, limit, "control error");
}

export function decodeControlReply(bytes: Uint8Array, limit = DEFAULT_MAX_PAYLOAD): unknown {
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, "control reply");
  if (bytes[0] !== 0x59 /* Y */ || bytes[1] !== 0x31) throw new MalformedMessageError("control reply does not start with Y1");
  let value: unknown;
  try {
    value = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", 2));
  } catch {
    throw new MalformedMessageError("control reply is not valid superjson");
  }
  const v = value as { ok?: unknown; r?: unknown; e?: WireError };
  if (v.ok === true) return v.r;
  if (v.ok === false && typeof v.e === "object" && v.e !== null && typeof v.e.code === "string") throw fromWireError(v.e);
  throw new MalformedMessageError("control reply is malformed");
}

/**
 * Sends a control message and returns the reply's result (or throws the remote error).
 * @param sent called with the encoded size before the message leaves (traffic counters)
 */
export function sendControl(transport: Transport, target: string, msg: ControlMessage, timeoutMs: number, limit = DEFAULT_MAX_PAYLOAD, sent?: (bytes: number) => void): Promise<unknown> {
  let payload: Uint8Array;
  try {
    payload = encodeControl(msg, limit);
  } catch (error) {
    return Promise.reject(error);
  }
  sent?.(payload.length);
  return transport.request(target, payload, timeoutMs).then((reply) => decodeControlReply(reply, limit));
}
