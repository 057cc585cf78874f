import { MalformedMessageError, PayloadTooLargeError } from "../errors.js";
import { isPlainJson, serializer } from "../state/serializer.js";
import { fromWireError, toWireError, type WireError } from "./wireErrors.js";

/**
 * The call protocol between nodes (frames below), and the bounded JSON helpers the other
 * protocols (membership, replication) use. Decoding is the one place where `unknown` from the
 * wire becomes typed: size first, then shape, then every field's type and bound.
 */

/**
 * The version of the protocol between nodes (call, control and replication frames). Nodes
 * write it in their records; frames of another version are refused as malformed, so nodes of
 * two versions cannot serve one cluster together (see docs/guides/operating.md). Records
 * without it are of version 1. Version 2: replication items as text frames ("X3").
 */
export const WIRE_PROTOCOL = 2;

/** Default bound for any message (NATS' own default `max_payload`). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Bounds of the fields of calls and replication items. */
export const LIMITS = { callId: 64, actorType: 64, actorId: 256, method: 64, node: 128, args: 64 } as const;

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

const decoder = new TextDecoder("utf-8", { fatal: true });

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

/**
 * Encodes a value with the framework serializer for embedding in a JSON message. Values that
 * are plain JSON already (the common case: strings, finite numbers, plain objects and arrays
 * of those) skip superjson, which costs more than the rest of the message.
 */
export function packValue(value: unknown): unknown {
  if (isPlainJson(value)) return { j: value };
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

/*
 * Call frames. JSON for a whole envelope costs more than a request's round trip budget on a
 * small machine, so calls use a length-prefixed text frame: the header fields as
 * `<length>:<value>` (no escaping, exact bounds), then the packed arguments or result, which
 * alone go through JSON. Measured here: 4.5 µs → ~1.5 µs per request and reply.
 *
 *   request: "C1" field(callId) field(type) field(id) field(method) field(from) int(ttl) int(epoch) payload
 *   reply:   "R1" ("k" payload | "e" json(WireError))
 *   payload: "j" json(value)  — plain JSON
 *          | "s" json({ json, meta })  — superjson
 */

/**
 * A copy of `s` that keeps no other string alive. V8 makes a substring of 13 or more
 * characters a view into the string it was cut from, so an id cut from a message and kept —
 * a call's outcome (kept for its last 64 calls), an actor's id — kept the whole message's text
 * alive with it: a request's text on an owner, a whole batch of items on a backup.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : (" " + s).slice(1);
}

/** A length-prefixed text field of a frame: `<length>:<value>` (no escaping). */
export function field(v: string): string {
  return `${v.length}:${v}`;
}

/** A value as frame text: `j` + JSON when it is plain JSON, else `s` + superjson's `{ json, meta }`. */
export function packPayload(value: unknown): string {
  // The common small values (a result, a pushed token) skip the walk: a string or a finite number is its JSON.
  if (typeof value === "string") return `j${JSON.stringify(value)}`;
  if (typeof value === "number" && Number.isFinite(value) && !Object.is(value, -0)) return `j${value}`;
  const p = packValue(value) as { j: unknown; m?: unknown };
  return p.m === undefined ? `j${JSON.stringify(p.j)}` : `s${JSON.stringify({ json: p.j, meta: p.m })}`;
}

/** Decodes a value packed by `packPayload` from `text`, starting at `at`. */
export function unpackPayload(text: string, at: number, what: string): unknown {
  const kind = text[at];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(at + 1));
  } catch {
    throw new MalformedMessageError(`${what} is not valid JSON`);
  }
  if (kind === "j") return parsed;
  if (kind === "s") {
    if (typeof parsed !== "object" || parsed === null) throw new MalformedMessageError(`${what} is malformed`);
    const p = parsed as { json?: unknown; meta?: unknown };
    return unpackValue({ j: p.json, m: p.meta ?? undefined }, what);
  }
  throw new MalformedMessageError(`${what} has an unknown encoding`);
}

/**
 * Reads a text frame: `<length>:<value>` fields, integers and numbers (each ended by `:`),
 * single characters and length-prefixed packed values, with bounds. Every read throws
 * `MalformedMessageError` naming what it read when the frame does not hold it.
 */
export class FrameReader {
  at: number;
  constructor(
    readonly text: string,
    start: number,
    readonly what: string,
  ) {
    this.at = start;
  }

  /** A non-negative integer of at most 16 digits and `max`, then `:`. */
  int(max: number, name: string): number {
    const text = this.text;
    let i = this.at;
    let n = 0;
    for (; i < text.length && i - this.at <= 16; i++) {
      const c = text.charCodeAt(i);
      if (c === 58 /* : */) break;
      if (c < 48 || c > 57) throw new MalformedMessageError(`${this.what}: ${name} must be a non-negative integer`);
      n = n * 10 + (c - 48);
    }
    if (i === this.at || text.charCodeAt(i) !== 58) throw new MalformedMessageError(`${this.what}: ${name} is missing`);
    if (n > max) throw new MalformedMessageError(`${this.what}: ${name} must be at most ${max}`);
    this.at = i + 1;
    return n;
  }

  /** A string field of 1 to `max` characters (0 to `max` with `empty`). */
  str(max: number, name: string, empty = false): string {
    const len = this.int(max, `${name} length`);
    if (len === 0 && !empty) throw new MalformedMessageError(`${this.what}: ${name} must be a string of 1 to ${max} characters`);
    const end = this.at + len;
    if (end > this.text.length) throw new MalformedMessageError(`${this.what}: ${name} is truncated`);
    const v = this.text.slice(this.at, end);
    this.at = end;
    return v;
  }

  /** A finite number as `String(n)` writes it, then `:` (see `numField`). */
  finite(name: string): number {
    const end = this.text.indexOf(":", this.at);
    if (end < 0 || end === this.at || end - this.at > 32) throw new MalformedMessageError(`${this.what}: ${name} is missing`);
    const n = Number(this.text.slice(this.at, end));
    if (!Number.isFinite(n)) throw new MalformedMessageError(`${this.what}: ${name} must be a finite number`);
    this.at = end + 1;
    return n;
  }

  /** One character. */
  char(name: string): string {
    if (this.at >= this.text.length) throw new MalformedMessageError(`${this.what}: ${name} is missing`);
    return this.text[this.at++] as string;
  }

  /** A value written as `field(packPayload(value))`. */
  payload(max: number, name: string): unknown {
    return unpackPayload(this.str(max, name), 0, `${this.what}: ${name}`);
  }

  /** Whether the whole frame was read. */
  get done(): boolean {
    return this.at >= this.text.length;
  }
}

/** A finite number as frame text, ended by `:` (read by `FrameReader.finite`). */
export function numField(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`a frame number must be finite, got ${n}`);
  return `${n}:`;
}

/** UTF-8 bytes of a frame, refused above `limit`. */
export function toBytes(text: string, limit: number, what: string): Uint8Array {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, what);
  return bytes;
}

/** The text of a frame, bounded and checked for its magic prefix. */
export function toText(bytes: Uint8Array, limit: number, what: string, magic: string): string {
  if (bytes.length > limit) throw new PayloadTooLargeError(limit, bytes.length, what);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new MalformedMessageError(`${what} is not valid UTF-8`);
  }
  if (!text.startsWith(magic)) throw new MalformedMessageError(`${what} does not start with ${magic} (wrong protocol or version)`);
  return text;
}

export function encodeCallRequest(req: CallRequest, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  const text =
    "C1" + field(req.callId) + field(req.actorType) + field(req.actorId) + field(req.method) + field(req.from) +
    `${Math.max(0, Math.floor(req.ttlMs))}:${req.epoch}:` + packPayload(req.args);
  return toBytes(text, limit, `call ${req.actorType}.${req.method}()`);
}

export function decodeCallRequest(bytes: Uint8Array, limit = DEFAULT_MAX_PAYLOAD): CallRequest {
  const r = new FrameReader(toText(bytes, limit, "call", "C1"), 2, "call");
  const callId = r.str(LIMITS.callId, "call id");
  const actorType = r.str(LIMITS.actorType, "actor type");
  const actorId = r.str(LIMITS.actorId, "actor id");
  const method = r.str(LIMITS.method, "method");
  const from = r.str(LIMITS.node, "caller node");
  const ttlMs = r.int(24 * 3600_000, "ttl");
  const epoch = r.int(Number.MAX_SAFE_INTEGER, "epoch");
  const args = unpackPayload(r.text, r.at, "call arguments");
  if (!Array.isArray(args) || args.length > LIMITS.args) throw new MalformedMessageError(`call arguments must be an array of at most ${LIMITS.args}`);
  return { callId, actorType, actorId, method, args, ttlMs, epoch, from };
}

export function encodeCallReply(reply: CallReply, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  if (!reply.ok) return toBytes(`R1e${JSON.stringify(reply.error)}`, limit, "error reply");
  try {
    return toBytes(`R1k${packPayload(reply.result)}`, limit, "call result");
  } catch (error) {
    return toBytes(`R1e${JSON.stringify(toWireError(error))}`, limit, "error reply");
  }
}

/** Decodes a reply; returns the result or throws the remote error as its own class. */
export function decodeCallReply(bytes: Uint8Array, limit = DEFAULT_MAX_PAYLOAD): unknown {
  const text = toText(bytes, limit, "reply", "R1");
  if (text[2] === "k") return unpackPayload(text, 3, "reply result");
  if (text[2] !== "e") throw new MalformedMessageError("reply must be a result or an error");
  let err: unknown;
  try {
    err = JSON.parse(text.slice(3));
  } catch {
    throw new MalformedMessageError("reply error is not valid JSON");
  }
  if (typeof err !== "object" || err === null) throw new MalformedMessageError("reply error must be an object");
  const e = err as Record<string, unknown>;
  throw fromWireError({
    code: str(e, "code", 64, "reply error"),
    name: str(e, "name", 128, "reply error"),
    message: typeof e.message === "string" ? e.message.slice(0, 4096) : "",
    data: typeof e.data === "object" && e.data !== null ? (e.data as Record<string, unknown>) : {},
  });
}

/** Encodes an error reply for any thrown value. */
export function errorReply(error: unknown, limit = DEFAULT_MAX_PAYLOAD): Uint8Array {
  return encodeCallReply({ ok: false, error: toWireError(error) }, limit);
}
