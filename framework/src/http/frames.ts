import { MalformedMessageError } from "../errors.js";

/**
 * The frames of HTTP requests forwarded over NATS (docs/guides/http.md#forwarding). A gateway
 * sends a request whose body it holds in full as one frame to the session's owner, which runs
 * the route and answers with one frame; a response body that is a stream (or too large for one
 * message) follows in chunks the gateway pulls one at a time. Binary, bounded, validated:
 *
 *   request:  "H1" u32 headLength head(JSON) body      head = { m, u, e, f, n, h }
 *   response: "h1" u32 headLength head(JSON) body      head = { s, h, x? }
 *   pull:     "P1" JSON { x, c? }                      x = stream id, c = cancel
 *   chunk:    "p1" u8 state body                       state: 0 more, 1 done, 2 no such stream
 *
 * Headers travel as a flat `[name, value, name, value, …]` list with lower-case names, the way
 * Node's `rawHeaders` and `writeHead` take them.
 */

/** A request as the owner receives it. */
export interface RequestFrame {
  readonly method: string;
  /** The request target, origin form (`/path?query`). */
  readonly url: string;
  /** The forwarder's view epoch. */
  readonly epoch: number;
  /** The forwarding node's id. */
  readonly from: string;
  /** The forwarder created the session; its cookie is set in the response. */
  readonly newSession: boolean;
  readonly headers: readonly string[];
  readonly body: Uint8Array;
}

/** A response as the forwarder receives it. */
export interface ResponseFrame {
  readonly status: number;
  readonly headers: readonly string[];
  /** The body, or its first part when `stream` is set. */
  readonly body: Uint8Array;
  /** The rest of the body is pulled from this stream. */
  readonly stream?: string;
}

/** A chunk of a streamed response body. */
export interface ChunkFrame {
  readonly state: "more" | "done" | "gone";
  readonly body: Uint8Array;
}

const REQUEST = [0x48, 0x31]; // "H1"
const RESPONSE = [0x68, 0x31]; // "h1"
const PULL = [0x50, 0x31]; // "P1"
const CHUNK = [0x70, 0x31]; // "p1"
const MAX_HEADERS = 256;
const MAX_URL = 16 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,256}$/;
const BAD_VALUE = /[\0\r\n]/;
const BAD_URL = /[\0- \x7f]/;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const STREAM_ID = /^[A-Za-z0-9]{1,32}$/;
const decoder = new TextDecoder("utf-8", { fatal: true });

function framed(magic: readonly number[], head: unknown, body: Uint8Array): Uint8Array {
  const json = JSON.stringify(head);
  const headLength = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(6 + headLength + body.length);
  out[0] = magic[0] as number;
  out[1] = magic[1] as number;
  out.writeUInt32BE(headLength, 2);
  out.write(json, 6, "utf8");
  out.set(body, 6 + headLength);
  return out;
}

function unframed(bytes: Uint8Array, magic: readonly number[], limit: number, what: string): { head: Record<string, unknown>; body: Uint8Array } {
  if (bytes.length > limit) throw new MalformedMessageError(`${what} of ${bytes.length} bytes exceeds ${limit}`);
  if (bytes.length < 6 || bytes[0] !== magic[0] || bytes[1] !== magic[1]) throw new MalformedMessageError(`not a ${what} (wrong protocol or version)`);
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2);
  if (6 + headLength > bytes.length) throw new MalformedMessageError(`${what} head is truncated`);
  let head: unknown;
  try {
    head = JSON.parse(decoder.decode(bytes.subarray(6, 6 + headLength)));
  } catch {
    throw new MalformedMessageError(`${what} head is not valid UTF-8 JSON`);
  }
  if (typeof head !== "object" || head === null || Array.isArray(head)) throw new MalformedMessageError(`${what} head must be an object`);
  return { head: head as Record<string, unknown>, body: bytes.subarray(6 + headLength) };
}

function headerList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length % 2 !== 0 || value.length > 2 * MAX_HEADERS) throw new MalformedMessageError(`${what} headers must be a list of at most ${MAX_HEADERS} name/value pairs`);
  for (let i = 0; i < value.length; i += 2) {
    const name: unknown = value[i];
    const v: unknown = value[i + 1];
    if (typeof name !== "string" || !HEADER_NAME.test(name)) throw new MalformedMessageError(`${what} header name ${JSON.stringify(name)} is not a lower-case HTTP token`);
    if (typeof v !== "string" || BAD_VALUE.test(v)) throw new MalformedMessageError(`${what} header ${name} has an invalid value`);
  }
  return value as string[];
}

export function isRequestFrame(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === REQUEST[0] && bytes[1] === REQUEST[1];
}

export function encodeRequest(r: RequestFrame): Uint8Array {
  return framed(REQUEST, { m: r.method, u: r.url, e: r.epoch, f: r.from, n: r.newSession ? 1 : 0, h: r.headers }, r.body);
}

export function decodeRequest(bytes: Uint8Array, limit: number): RequestFrame {
  const { head, body } = unframed(bytes, REQUEST, limit, "forwarded request");
  const { m, u, e, f, n } = head;
  if (typeof m !== "string" || !TOKEN.test(m)) throw new MalformedMessageError("forwarded request method must be an HTTP token");
  if (typeof u !== "string" || u.length > MAX_URL || u.charCodeAt(0) !== 47 || BAD_URL.test(u)) throw new MalformedMessageError(`forwarded request target must start with "/", without spaces or control characters, at most ${MAX_URL} characters`);
  if (typeof e !== "number" || !Number.isSafeInteger(e) || e < 0) throw new MalformedMessageError("forwarded request epoch must be a non-negative integer");
  if (typeof f !== "string" || !NODE_ID.test(f)) throw new MalformedMessageError("forwarded request must name its forwarder");
  if (n !== 0 && n !== 1) throw new MalformedMessageError("forwarded request new-session flag must be 0 or 1");
  return { method: m, url: u, epoch: e, from: f, newSession: n === 1, headers: headerList(head.h, "forwarded request"), body };
}

export function encodeResponse(r: ResponseFrame): Uint8Array {
  return framed(RESPONSE, r.stream === undefined ? { s: r.status, h: r.headers } : { s: r.status, h: r.headers, x: r.stream }, r.body);
}

export function decodeResponse(bytes: Uint8Array, limit: number): ResponseFrame {
  const { head, body } = unframed(bytes, RESPONSE, limit, "forwarded response");
  const { s, x } = head;
  if (typeof s !== "number" || !Number.isInteger(s) || s < 200 || s > 999) throw new MalformedMessageError("forwarded response status must be an integer from 200 to 999");
  if (x !== undefined && (typeof x !== "string" || !STREAM_ID.test(x))) throw new MalformedMessageError("forwarded response stream id is malformed");
  const headers = headerList(head.h, "forwarded response");
  return x === undefined ? { status: s, headers, body } : { status: s, headers, body, stream: x };
}

export function encodePull(stream: string, cancel: boolean): Uint8Array {
  return Buffer.from(`${String.fromCharCode(PULL[0] as number, PULL[1] as number)}${JSON.stringify(cancel ? { x: stream, c: 1 } : { x: stream })}`, "latin1");
}

export function isPullFrame(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === PULL[0] && bytes[1] === PULL[1];
}

export function decodePull(bytes: Uint8Array): { stream: string; cancel: boolean } {
  if (bytes.length > 256 || !isPullFrame(bytes)) throw new MalformedMessageError("not a body pull");
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes.subarray(2)));
  } catch {
    throw new MalformedMessageError("body pull is not valid JSON");
  }
  const { x, c } = (v ?? {}) as { x?: unknown; c?: unknown };
  if (typeof x !== "string" || !STREAM_ID.test(x)) throw new MalformedMessageError("body pull needs a stream id");
  return { stream: x, cancel: c === 1 };
}

const CHUNK_STATES = ["more", "done", "gone"] as const;

export function encodeChunk(c: ChunkFrame): Uint8Array {
  const out = Buffer.allocUnsafe(3 + c.body.length);
  out[0] = CHUNK[0] as number;
  out[1] = CHUNK[1] as number;
  out[2] = CHUNK_STATES.indexOf(c.state);
  out.set(c.body, 3);
  return out;
}

export function decodeChunk(bytes: Uint8Array, limit: number): ChunkFrame {
  if (bytes.length > limit) throw new MalformedMessageError(`body chunk of ${bytes.length} bytes exceeds ${limit}`);
  const state = CHUNK_STATES[bytes[2] ?? 99];
  if (bytes.length < 3 || bytes[0] !== CHUNK[0] || bytes[1] !== CHUNK[1] || state === undefined) throw new MalformedMessageError("not a body chunk");
  return { state, body: bytes.subarray(3) };
}
