import { Agent, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { DeadlineExceededError, NodeUnreachableError, ReplyLostError } from "../errors.js";
import type { ClusterNode } from "../node/ClusterNode.js";
import type { Logger } from "../node/logger.js";
import type { NatsTransport } from "../transport/nats/NatsTransport.js";
import { decodeChunk, decodeResponse, encodePull, encodeRequest, type RequestFrame, type ResponseFrame } from "./frames.js";
import { H, hopByHop, outOfTouchMessage, sendJson } from "./protocol.js";
import { ReplayableBody } from "./ReplayableBody.js";
import type { SessionCookies } from "./sessionCookie.js";

/** Forwarding limits (see docs/guides/http.md#forwarding). */
export interface ForwardOptions {
  /** How long a request may wait for its session's owner to be known and reachable (moves, failover). */
  forwardTimeoutMs: number;
  /** How long the owner may take to answer once it has the request. */
  responseTimeoutMs: number;
  /** Request bodies up to this size are kept so the request can be retried on another node. */
  maxReplayBytes: number;
  /**
   * Requests with a body of at most this many bytes (by Content-Length) go to the owner over
   * NATS as one message; larger and chunked ones over HTTP, streamed. 0: always HTTP.
   */
  maxFramedBytes: number;
}

/** Counters of a forwarder, reported by `/_berth/health`. */
export interface ForwardCounters {
  forwarded: number;
  retries: number;
  failed: number;
}

type Outcome = { readonly retry: false } | { readonly retry: true; readonly epoch?: number };
/** One try at the owner: resolves once the response is committed to the client, or with a retry. */
type Attempt = (owner: string, epoch: number) => Promise<Outcome>;
/** What a forwarded POST (or other non-idempotent request) whose answer was lost logs and answers (502), by why it was lost. */
const LOST = {
  "owner-left": {
    log: "node left the cluster during a request; its outcome is unknown",
    error: "the node serving this session failed during the request; it may or may not have been applied — reload to check before trying again",
  },
  "out-of-touch": {
    log: "this node lost touch with the cluster during a forwarded request; its outcome is unknown",
    error: "this node lost touch with the cluster during the request; it may or may not have been applied — reload through another node to check before trying again",
  },
} as const;

/** A request forwarded over NATS, waiting for its answer. */
interface InFlight {
  readonly owner: string;
  /** The owner left the view, or this node lost touch with the cluster: give up on this answer. */
  lost(why: keyof typeof LOST): void;
  lostTimer?: NodeJS.Timeout;
}

const DONE: Outcome = { retry: false };
/** Errors that mean the request never reached the upstream: safe to send again whatever the method. */
const NOT_SENT = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** Methods a client may repeat (RFC 9110 §9.2.2): retried after any connection failure. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

class UpstreamTimeoutError extends Error {
  override name = "UpstreamTimeoutError";
}

/** How long a forwarded request waits for its answer after its owner left the view (a late answer still counts). */
const OWNER_LOST_GRACE_MS = 1_000;

/**
 * Sends requests to the node that owns their session. A request whose body is small and known
 * (most API calls) travels over NATS as one message (frames.ts) — requests to one node in the
 * same event-loop turn share one NATS message — and its answer comes back the same way, a
 * streamed response body in chunks pulled one at a time. Larger or chunked bodies go over
 * keep-alive HTTP connections, streamed both ways. A 421 from the owner (it is not, or no
 * longer, the owner) or an unreachable owner (it is gone) is retried — same request, same
 * body — after the view catches up, until the forward deadline. A request that may have run
 * is never sent twice: a POST whose owner failed after receiving it answers 502 instead.
 */
export class Forwarder {
  readonly counters: ForwardCounters = { forwarded: 0, retries: 0, failed: 0 };
  private readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 1024, scheduling: "lifo" });
  private readonly targets = new Map<string, { host: string; port: number } | null>();
  private readonly inFlight = new Set<InFlight>();
  private readonly offView: () => void;
  private readonly offLease: () => void;

  constructor(
    private readonly node: ClusterNode,
    private readonly transport: NatsTransport,
    private readonly cookies: SessionCookies,
    private readonly options: ForwardOptions,
    private readonly log: Logger,
  ) {
    this.offView = node.onViewChange((view) => {
      for (const f of this.inFlight) {
        if (f.lostTimer === undefined && !view.members.some((m) => m.id === f.owner)) f.lostTimer = setTimeout(() => f.lost("owner-left"), OWNER_LOST_GRACE_MS);
      }
    });
    // Cut off from NATS, this node hears no answers (and a reconnect fails them anyway): answer now.
    this.offLease = node.membership.onLease((valid) => {
      if (!valid) for (const f of [...this.inFlight]) f.lost("out-of-touch");
    });
  }

  /** Forwards one request for session `sessionId` (`isNew`: created here, not yet in a cookie). */
  forward(req: IncomingMessage, res: ServerResponse, sessionId: string, isNew: boolean): void {
    this.counters.forwarded++;
    const h = req.headers;
    const length = h["content-length"];
    const framed = h["transfer-encoding"] === undefined && (length === undefined || Number(length) <= this.options.maxFramedBytes) && req.url?.charCodeAt(0) === 47 && this.options.maxFramedBytes > 0;
    if (framed) return this.forwardFramed(req, res, sessionId, isNew, length !== undefined && length !== "0");
    const headers = this.upstreamHeaders(req, sessionId, isNew);
    const hasBody = (length !== undefined && length !== "0") || h["transfer-encoding"] !== undefined;
    const body = hasBody ? new ReplayableBody(req, this.options.maxReplayBytes) : null;
    this.guard(res, this.run(res, sessionId, body, (owner, epoch) => {
      const target = this.targetOf(owner) as { host: string; port: number };
      return this.attemptHttp(target, req, res, headers, body, epoch);
    }));
  }

  /** Closes idle upstream connections. */
  close(): void {
    this.offView();
    this.offLease();
    this.agent.destroy();
    for (const f of this.inFlight) clearTimeout(f.lostTimer);
  }

  private guard(res: ServerResponse, run: Promise<void>): void {
    run.catch((err: unknown) => {
      this.counters.failed++;
      this.log.error({ err }, "forwarding failed");
      sendJson(res, 502, { error: "the gateway failed to forward the request; try again" });
    });
  }

  /** Reads the (small) body, then sends the request over NATS. */
  private forwardFramed(req: IncomingMessage, res: ServerResponse, sessionId: string, isNew: boolean, hasBody: boolean): void {
    const frame = { method: req.method ?? "GET", url: req.url as string, from: this.node.id, newSession: isNew, headers: this.upstreamHeaderList(req, sessionId, isNew) };
    const go = (body: Uint8Array): void => this.guard(res, this.run(res, sessionId, null, (owner, epoch) => this.attemptFramed(owner, { ...frame, epoch, body }, res)));
    if (!hasBody) return go(EMPTY);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => undefined); // the client went away mid-body: nothing to forward
    req.on("end", () => go(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
  }

  private async run(res: ServerResponse, sessionId: string, body: ReplayableBody | null, attempt: Attempt): Promise<void> {
    const deadline = Date.now() + this.options.forwardTimeoutMs;
    let backoff = 10;
    for (;;) {
      if (res.destroyed) return; // the client went away
      if (!this.node.membership.leaseValid()) {
        // Cut off from NATS: no owner can be reached from here until the lease is back, and the
        // client is better served by another node. (A try made before was refused or is safe to
        // repeat: a POST whose reply was lost is answered 502 where it was lost, never retried.)
        this.counters.failed++;
        sendJson(res, 503, { error: outOfTouchMessage(this.node) }, { "retry-after": "1" });
        return;
      }
      const { owner, epoch } = this.node.locate(sessionId);
      const target = owner === null ? null : this.targetOf(owner);
      if (target === undefined) {
        this.counters.failed++;
        sendJson(res, 502, { error: `node ${owner} owns this session but serves no HTTP; start every worker with --http` });
        return;
      }
      if (target !== null) {
        const outcome = await attempt(owner as string, epoch);
        if (!outcome.retry) return;
        this.counters.retries++;
        if (outcome.epoch !== undefined && outcome.epoch > this.node.view.epoch) await this.node.membership.reconcile().catch(() => undefined);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || (body !== null && !body.replayable)) {
        this.counters.failed++;
        const why =
          owner === null
            ? "no worker node is up to serve this session"
            : remaining <= 0
              ? `the node serving this session (${owner}) could not be reached within ${this.options.forwardTimeoutMs} ms`
              : "the session moved while a large request body was streaming";
        sendJson(res, 503, { error: `${why}; try again` }, { "retry-after": "1" });
        return;
      }
      await this.waitForView(Math.min(remaining, backoff));
      backoff = Math.min(backoff * 2, 250);
    }
  }

  /** One try over NATS. */
  private attemptFramed(owner: string, frame: RequestFrame, res: ServerResponse): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const settle = (o: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(inFlight.lostTimer);
        this.inFlight.delete(inFlight);
        resolve(o);
      };
      const inFlight: InFlight = {
        owner,
        lost: (why) => {
          if (settled) return;
          if (IDEMPOTENT.has(frame.method)) return settle({ retry: true }); // the retry loop answers 503 while out of touch
          this.counters.failed++;
          const { log, error } = LOST[why];
          this.log.warn({ target: owner, method: frame.method, path: frame.url }, log);
          sendJson(res, 502, { error });
          settle(DONE);
        },
      };
      this.inFlight.add(inFlight);
      let payload: Uint8Array;
      try {
        payload = encodeRequest(frame);
      } catch (error) {
        settle(DONE);
        throw error;
      }
      this.transport.send(
        owner,
        payload,
        this.options.responseTimeoutMs,
        (bytes) => {
          if (settled) return;
          let r: ResponseFrame;
          try {
            r = decodeResponse(bytes, this.transport.maxPayload);
          } catch (err) {
            this.counters.failed++;
            this.log.warn({ err, target: owner }, "malformed forwarded response");
            sendJson(res, 502, { error: "the node serving this session sent a malformed answer; the request may or may not have been applied" });
            return settle(DONE);
          }
          if (r.status === 421 && headerIn(r.headers, H.misdirected) === "1") return settle({ retry: true, epoch: Number(headerIn(r.headers, H.epoch)) });
          this.relay(owner, r, frame.method, res);
          settle(DONE);
        },
        (err) => {
          if (settled) return;
          if (err instanceof NodeUnreachableError) return settle({ retry: true }); // nobody received it
          // A NATS server died under the request: a GET or HEAD may simply go again.
          if (err instanceof ReplyLostError && IDEMPOTENT.has(frame.method)) return settle({ retry: true });
          this.counters.failed++;
          if (err instanceof ReplyLostError) {
            sendJson(res, 502, { error: "the connection to the node serving this session was interrupted during the request; it may or may not have been applied — reload to check before trying again" });
          } else if (err instanceof DeadlineExceededError) {
            sendJson(res, 504, { error: `the node serving this session did not answer within ${this.options.responseTimeoutMs} ms; the request may or may not have been applied` });
          } else {
            this.log.warn({ err, target: owner }, "forwarding over NATS failed; the request's outcome is unknown");
            sendJson(res, 502, { error: "the node serving this session could not be reached during the request; it may or may not have been applied — reload to check before trying again" });
          }
          settle(DONE);
        },
      );
    });
  }

  /** Writes a framed answer to the client: at once, or its body pulled chunk by chunk. */
  private relay(owner: string, r: ResponseFrame, method: string, res: ServerResponse): void {
    if (res.destroyed) {
      if (r.stream !== undefined) this.cancelStream(owner, r.stream);
      return;
    }
    if (r.stream === undefined) {
      // Answers that never have a body (RFC 9110 §6.4.1) carry no Content-Length either.
      if (method === "HEAD" || r.status === 204 || r.status === 304) {
        res.writeHead(r.status, r.headers as string[]);
        res.end();
        return;
      }
      const headers = r.headers.slice();
      headers.push("content-length", String(r.body.length));
      res.writeHead(r.status, headers);
      res.end(r.body);
      return;
    }
    const stream = r.stream;
    res.writeHead(r.status, r.headers as string[]);
    if (r.body.length > 0) res.write(r.body);
    let finished = false;
    res.once("close", () => {
      if (!finished) this.cancelStream(owner, stream);
    });
    const pull = (): void => {
      this.transport.send(
        owner,
        encodePull(stream, false),
        this.options.responseTimeoutMs,
        (bytes) => {
          if (res.destroyed) return;
          let chunk;
          try {
            chunk = decodeChunk(bytes, this.transport.maxPayload);
          } catch {
            chunk = { state: "gone" as const, body: EMPTY };
          }
          if (chunk.state === "gone") {
            finished = true;
            res.destroy(); // the owner's answer broke off: so does the client's
            return;
          }
          if (chunk.state === "done") {
            finished = true;
            res.end(chunk.body);
            return;
          }
          if (res.write(chunk.body)) pull();
          else res.once("drain", pull);
        },
        () => {
          finished = true;
          res.destroy();
        },
      );
    };
    pull();
  }

  private cancelStream(owner: string, stream: string): void {
    this.transport.send(owner, encodePull(stream, true), 5_000, () => undefined, () => undefined);
  }

  /** One try at one node over HTTP. Resolves once the response is committed to the client, or with a retry. */
  private attemptHttp(target: { host: string; port: number }, req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders, body: ReplayableBody | null, epoch: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let committed = false; // the owner's response is streaming to the client
      const settle = (o: Outcome): void => {
        if (settled) return;
        settled = true;
        res.off("close", onClientClose);
        resolve(o);
      };
      const up = request({ agent: this.agent, host: target.host, port: target.port, method: req.method, path: req.url, headers: { ...headers, [H.epoch]: String(epoch) } });
      const onClientClose = (): void => {
        if (!res.writableFinished) up.destroy();
        settle(DONE);
      };
      res.on("close", onClientClose);
      up.setTimeout(this.options.responseTimeoutMs, () => up.destroy(new UpstreamTimeoutError()));
      up.on("response", (ur) => {
        if (ur.statusCode === 421 && ur.headers[H.misdirected] === "1") {
          ur.resume();
          body?.detach();
          if (!up.writableFinished) up.destroy();
          settle({ retry: true, epoch: Number(ur.headers[H.epoch]) });
          return;
        }
        committed = true;
        res.writeHead(ur.statusCode ?? 502, ur.statusMessage, responseHeaders(ur.headers));
        ur.pipe(res);
        ur.once("close", () => {
          if (!ur.complete) res.destroy(); // the owner's answer broke off: so does the client's
        });
        settle(DONE);
      });
      up.on("error", (err: NodeJS.ErrnoException) => {
        if (committed) {
          res.destroy(); // the response was already streaming: cut it so the client sees the failure
          return;
        }
        if (settled) return; // we gave up on this attempt (421, client gone) and destroyed it
        body?.detach();
        if (err instanceof UpstreamTimeoutError) {
          this.counters.failed++;
          sendJson(res, 504, { error: `the node serving this session did not answer within ${this.options.responseTimeoutMs} ms; the request may or may not have been applied` });
          settle(DONE);
          return;
        }
        if (NOT_SENT.has(err.code ?? "") || IDEMPOTENT.has(req.method ?? "")) {
          this.log.debug({ err: err.message, target: `${target.host}:${target.port}` }, "forward attempt failed; retrying");
          settle({ retry: true });
          return;
        }
        this.counters.failed++;
        this.log.warn({ err: err.message, target: `${target.host}:${target.port}`, method: req.method, path: req.url }, "node failed during a request; its outcome is unknown");
        sendJson(res, 502, { error: "the node serving this session failed during the request; it may or may not have been applied — reload to check before trying again" });
        settle(DONE);
      });
      if (body === null) up.end();
      else body.pipeTo(up);
    });
  }

  /** The owner's HTTP address: null while its record is not known yet, undefined if it serves no HTTP. */
  private targetOf(owner: string): { host: string; port: number } | null | undefined {
    const record = this.node.records().get(owner);
    if (record === undefined) return null;
    if (record.http === undefined) return undefined;
    let target = this.targets.get(record.http);
    if (target === undefined) {
      try {
        const url = new URL(record.http);
        target = { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) };
      } catch {
        target = null;
      }
      this.targets.set(record.http, target);
    }
    return target ?? undefined;
  }

  /** The request's headers as the owner should see them, for an HTTP request. */
  private upstreamHeaders(req: IncomingMessage, sessionId: string, isNew: boolean): OutgoingHttpHeaders {
    const list = this.upstreamHeaderList(req, sessionId, isNew);
    const out: OutgoingHttpHeaders = {};
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i] as string;
      const prev = out[name];
      out[name] = prev === undefined ? (list[i + 1] as string) : [...(Array.isArray(prev) ? prev : [String(prev)]), list[i + 1] as string];
    }
    out[H.forwardedBy] = this.node.id;
    if (isNew) out[H.newSession] = "1";
    return out;
  }

  /** The request's end-to-end headers, flat, with the forwarding headers added and Berth's own dropped. */
  private upstreamHeaderList(req: IncomingMessage, sessionId: string, isNew: boolean): string[] {
    const out: string[] = [];
    const h = req.headers;
    const skip = hopByHop(h.connection);
    let forwardedFor: string | undefined;
    let proto = false;
    let host = false;
    for (const name in h) {
      const value = h[name];
      if (value === undefined || skip(name) || name.startsWith("x-berth-")) continue;
      if (name === "x-forwarded-for") {
        forwardedFor = String(value);
        continue;
      }
      // A new session starts here: the owner sees a valid cookie for it and sets it in its answer.
      if (name === "cookie" && isNew) continue;
      if (name === "x-forwarded-proto") proto = true;
      else if (name === "x-forwarded-host") host = true;
      if (typeof value === "string") out.push(name, value);
      else for (const v of value) out.push(name, v);
    }
    const remote = req.socket.remoteAddress;
    if (remote !== undefined) out.push("x-forwarded-for", forwardedFor !== undefined ? `${forwardedFor}, ${remote}` : remote);
    else if (forwardedFor !== undefined) out.push("x-forwarded-for", forwardedFor);
    if (!proto) out.push("x-forwarded-proto", "http");
    if (!host && h.host !== undefined) out.push("x-forwarded-host", h.host);
    if (isNew) out.push("cookie", this.cookies.replaceIn(h.cookie, this.cookies.sign(sessionId)));
    return out;
  }

  private waitForView(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, ms);
      const off = this.node.onViewChange(done);
    });
  }
}

const EMPTY = new Uint8Array(0);

/** The owner's response headers without the hop-by-hop ones. */
function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const skip = hopByHop(headers.connection);
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !skip(name)) out[name] = value;
  }
  return out;
}

/** The first value of header `name` in a flat list. */
function headerIn(list: readonly string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
  return undefined;
}
