import { MalformedMessageError, PayloadTooLargeError } from "../errors.js";
import { serializer } from "../state/serializer.js";
import { fromWireError, toWireError, type WireError } from "./wireErrors.js";

/**
 * The call protocol between nodes. Every message is JSON with short keys; arguments and
 * results are superjson-encoded (`{ json, meta }`). Decoding is the one place where `unknown`
 * from the wire becomes typed: size first, then shape, then every field's type and bound.
 */

/** Default bound for any message (NATS' own default `max_payload`). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

const LIMITS = { callId: 64, actorType: 64, actorId: 256, method: 64, node: 128, args: 64 };

/** A call on its way to the node that owns the actor. */
export interface CallRequest {
  /** Unique per logical call; retries reuse it, so the owner runs the call at most once. */
  readonly callId: string;
  readonly actorType: string;
  readonly actorId: string;
  readonly method: string;
  readonly args: unknown[];
  /** Milliseconds the caller still waits; the owner drops the call when they run out. */
  readonly ttlMs: number;
  /** The view epoch the caller routed with. */
  readonly epoch: number;
  /** The calling node's id. */
  readonly from: string;
}

/** The answer to a call. */
export type CallReply = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: WireError };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function encode(message: object, limit: number, what: string): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(message));
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, what);
  return bytes;
}

/** Parses JSON from the wire, bounded by `limit`, into an object. */
export function decodeObject(bytes: Uint8Array, limit: number, what: string): Record<string, unknown> {
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, what);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new MalformedMessageError(`${what} is not valid UTF-8 JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MalformedMessageError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** A string field no longer than `max`. */
export function str(obj: Record<string, unknown>, key: string, max: number, what: string): string {
  const v = obj[key];
  if (typeof v !== "string" || v.length === 0 || v.length > max) throw new MalformedMessageError(`${what}.${key} must be a string of 1 to ${max} characters`);
  return v;
}

/** A finite number field within [min, max]. */
export function num(obj: Record<string, unknown>, key: string, min: number, max: number, what: string): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw new MalformedMessageError(`${what}.${key} must be a number from ${min} to ${max}`);
  return v;
}

/** Encodes a value with the framework serializer for embedding in a JSON message. */
export function packValue(value: unknown): unknown {
  const { json, meta } = serializer.serialize(value);
  return meta === undefined ? { j: json } : { j: json, m: meta };
}

/** Decodes a value packed by `packValue`. */
export function unpackValue(packed: unknown, what: string): unknown {
  if (typeof packed !== "object" || packed === null || !("j" in packed)) throw new MalformedMessageError(`${what} is missing`);
  const p = packed as { j: unknown; m?: unknown };
  try {
    return p.m === undefined ? p.j : serializer.deserialize({ json: p.j as never, meta: p.m as never });
  } catch (e) {
    throw new MalformedMessageError(`${what} could not be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function encodeCallRequest(req: CallRequest, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  return encode(
    { v: 1, c: req.callId, t: req.actorType, i: req.actorId, m: req.method, a: packValue(req.args), l: req.ttlMs, e: req.epoch, f: req.from },
    limit,
    `call ${req.actorType}.${req.method}()`,
  );
}

export function decodeCallRequest(bytes: Uint8Array, limit = DEFAULT_MAX_PAYLOAD): CallRequest {
  const o = decodeObject(bytes, limit, "call");
  if (o.v !== 1) throw new MalformedMessageError("call.v must be 1");
  const args = unpackValue(o.a, "call.a (arguments)");
  if (!Array.isArray(args) || args.length > LIMITS.args) throw new MalformedMessageError(`call arguments must be an array of at most ${LIMITS.args}`);
  return {
    callId: str(o, "c", LIMITS.callId, "call"),
    actorType: str(o, "t", LIMITS.actorType, "call"),
    actorId: str(o, "i", LIMITS.actorId, "call"),
    method: str(o, "m", LIMITS.method, "call"),
    args,
    ttlMs: num(o, "l", 0, 24 * 3600_000, "call"),
    epoch: num(o, "e", 0, Number.MAX_SAFE_INTEGER, "call"),
    from: str(o, "f", LIMITS.node, "call"),
  };
}

export function encodeCallReply(reply: CallReply, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  if (!reply.ok) return encode({ v: 1, ok: false, err: reply.error }, limit, "error reply");
  try {
    return encode({ v: 1, ok: true, r: packValue(reply.result) }, limit, "call result");
  } catch (error) {
    return encode({ v: 1, ok: false, err: toWireError(error) }, limit, "error reply");
  }
}

/** Decodes a reply; returns the result or throws the remote error as its own class. */
export function decodeCallReply(bytes: Uint8Array, limit = DEFAULT_MAX_PAYLOAD): unknown {
  const o = decodeObject(bytes, limit, "reply");
  if (o.v !== 1) throw new MalformedMessageError("reply.v must be 1");
  if (o.ok === true) return unpackValue(o.r, "reply.r (result)");
  const err = o.err as Record<string, unknown> | undefined;
  if (typeof err !== "object" || err === null) throw new MalformedMessageError("reply.err is missing");
  throw fromWireError({
    code: str(err, "code", 64, "reply.err"),
    name: str(err, "name", 128, "reply.err"),
    message: typeof err.message === "string" ? err.message.slice(0, 4096) : "",
    data: typeof err.data === "object" && err.data !== null ? (err.data as Record<string, unknown>) : {},
  });
}

/** Encodes an error reply for any thrown value. */
export function errorReply(error: unknown, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  return encodeCallReply({ ok: false, error: toWireError(error) }, limit);
}
