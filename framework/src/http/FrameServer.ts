import { randomBytes } from "node:crypto";
import type { Logger } from "../node/logger.js";
import type { NatsTransport } from "../transport/nats/NatsTransport.js";
import { decodePull, decodeRequest, encodeChunk, encodeResponse, isPullFrame, type RequestFrame } from "./frames.js";
import type { ResponseParts } from "./responseParts.js";

/** A response body being pulled by the forwarder, chunk by chunk. */
interface OpenStream {
  readonly reader: ReadableStreamDefaultReader<Uint8Array> | null;
  /** Bytes read (or given) but not sent yet. */
  rest: Uint8Array;
  /** The previous pull's answer: pulls of one stream are answered in order. */
  last: Promise<void>;
  timer: NodeJS.Timeout;
}

/** A stream nobody pulled for this long is cancelled (its forwarder or client is gone). */
const STREAM_IDLE_MS = 60_000;
/** Most open response streams per node; beyond it, large answers are refused with 503. */
const MAX_STREAMS = 10_000;

/** A JSON answer as response parts. */
export function jsonParts(status: number, body: Record<string, unknown>, headers: readonly string[] = []): ResponseParts & { body: Uint8Array } {
  return { status, headers: [...headers, "content-type", "application/json; charset=utf-8", "cache-control", "no-store"], body: Buffer.from(JSON.stringify(body)) };
}

/**
 * The owner's side of HTTP forwarding over NATS: takes request frames on the node's HTTP
 * subject, has `handle` run them, and answers each with one response frame — the whole body
 * when it is small and at hand, else its first part and a stream the forwarder pulls. A frame
 * that does not decode gets a 400 answer; nothing a peer sends can throw past this class.
 */
export class FrameServer {
  private readonly streams = new Map<string, OpenStream>();
  /** Request frames that did not decode. */
  malformed = 0;
  private readonly chunkBytes: number;

  constructor(
    private readonly transport: NatsTransport,
    private readonly handle: (frame: RequestFrame) => Promise<ResponseParts>,
    private readonly log: Logger,
  ) {
    this.chunkBytes = Math.min(256 * 1024, Math.floor(transport.maxPayload / 2));
    transport.serve((bytes, respond) => {
      if (isPullFrame(bytes)) return this.pull(bytes, respond);
      let frame: RequestFrame;
      try {
        frame = decodeRequest(bytes, this.transport.maxPayload);
      } catch (error) {
        this.malformed++;
        this.log.warn({ err: error, bytes: bytes.length }, "malformed forwarded request rejected");
        return respond(encodeResponse(jsonParts(400, { error: `malformed forwarded request: ${error instanceof Error ? error.message : String(error)}`})));
      }
      this.handle(frame)
        .then((parts) => this.answer(parts, respond))
        .catch((err: unknown) => {
          this.log.error({ err }, "forwarded request failed");
          this.answer(jsonParts(500, { error: "internal error" }), respond);
        });
    });
  }

  /** Cancels every open response stream. */
  close(): void {
    for (const [id, s] of this.streams) this.drop(id, s);
  }

  /** How many response bodies are being pulled. */
  get openStreams(): number {
    return this.streams.size;
  }

  private answer(parts: ResponseParts, respond: (reply: Uint8Array) => void): void {
    const { body } = parts;
    if (body === null || (body instanceof Uint8Array && body.length <= this.chunkBytes)) {
      respond(encodeResponse({ status: parts.status, headers: parts.headers, body: body ?? EMPTY }));
      return;
    }
    if (this.streams.size >= MAX_STREAMS) {
      if (!(body instanceof Uint8Array)) void body.cancel().catch(() => undefined);
      respond(encodeResponse(jsonParts(503, { error: "this node is sending too many large responses; try again" }, ["retry-after", "1"])));
      return;
    }
    const id = randomBytes(8).toString("hex");
    const stream: OpenStream = {
      reader: body instanceof Uint8Array ? null : body.getReader(),
      rest: body instanceof Uint8Array ? body : EMPTY,
      last: Promise.resolve(),
      timer: setTimeout(() => this.drop(id, stream), STREAM_IDLE_MS),
    };
    this.streams.set(id, stream);
    respond(encodeResponse({ status: parts.status, headers: parts.headers, body: EMPTY, stream: id }));
  }

  private pull(bytes: Uint8Array, respond: (reply: Uint8Array) => void): void {
    let pull: { stream: string; cancel: boolean };
    try {
      pull = decodePull(bytes);
    } catch {
      this.malformed++;
      return respond(encodeChunk({ state: "gone", body: EMPTY }));
    }
    const s = this.streams.get(pull.stream);
    if (s === undefined) return respond(encodeChunk({ state: "gone", body: EMPTY }));
    if (pull.cancel) {
      this.drop(pull.stream, s);
      return respond(encodeChunk({ state: "done", body: EMPTY }));
    }
    s.timer.refresh();
    s.last = s.last.then(() =>
      this.next(s).then(
        (chunk) => {
          if (chunk === null) {
            this.drop(pull.stream, s);
            respond(encodeChunk({ state: "done", body: EMPTY }));
          } else {
            respond(encodeChunk({ state: "more", body: chunk }));
          }
        },
        (err: unknown) => {
          this.log.warn({ err }, "a streamed response body failed; the client's response is cut");
          this.drop(pull.stream, s);
          respond(encodeChunk({ state: "gone", body: EMPTY }));
        },
      ),
    );
  }

  /** The next chunk of a stream (at most `chunkBytes`), or null at its end. */
  private async next(s: OpenStream): Promise<Uint8Array | null> {
    while (s.rest.length === 0) {
      if (s.reader === null) return null;
      const { done, value } = await s.reader.read();
      if (done) return null;
      s.rest = typeof value === "string" ? Buffer.from(value) : value;
    }
    const chunk = s.rest.subarray(0, this.chunkBytes);
    s.rest = s.rest.subarray(chunk.length);
    return chunk;
  }

  private drop(id: string, s: OpenStream): void {
    clearTimeout(s.timer);
    this.streams.delete(id);
    if (s.reader !== null) void s.reader.cancel().catch(() => undefined);
  }
}

const EMPTY = new Uint8Array(0);
