import { Agent, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { ClusterNode } from "../node/ClusterNode.js";
import type { Logger } from "../node/logger.js";
import { H, isHopByHop, sendJson } from "./protocol.js";
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
}

/** Counters of a forwarder, reported by `/_berth/health`. */
export interface ForwardCounters {
  forwarded: number;
  retries: number;
  failed: number;
}

type Outcome = { readonly retry: false } | { readonly retry: true; readonly epoch?: number };

const DONE: Outcome = { retry: false };
/** Errors that mean the request never reached the upstream: safe to send again whatever the method. */
const NOT_SENT = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** Methods a client may repeat (RFC 9110 §9.2.2): retried after any connection failure. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

class UpstreamTimeoutError extends Error {
  override name = "UpstreamTimeoutError";
}

/**
 * Sends requests to the node that owns their session over keep-alive connections, streaming
 * bodies both ways. A 421 from that node (it is not, or no longer, the owner) or a refused
 * connection (it is gone) is retried — same request, same body — after the view catches up,
 * until the forward deadline. A request that may have run is never sent twice: a POST whose
 * connection broke after it was sent answers 502 instead.
 */
export class Forwarder {
  readonly counters: ForwardCounters = { forwarded: 0, retries: 0, failed: 0 };
  private readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 1024, scheduling: "lifo" });
  private readonly targets = new Map<string, { host: string; port: number } | null>();

  constructor(
    private readonly node: ClusterNode,
    private readonly cookies: SessionCookies,
    private readonly options: ForwardOptions,
    private readonly log: Logger,
  ) {}

  /** Forwards one request for session `sessionId` (`isNew`: created here, not yet in a cookie). */
  forward(req: IncomingMessage, res: ServerResponse, sessionId: string, isNew: boolean): void {
    this.counters.forwarded++;
    const headers = this.upstreamHeaders(req, sessionId, isNew);
    const hasBody = (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") || req.headers["transfer-encoding"] !== undefined;
    const body = hasBody ? new ReplayableBody(req, this.options.maxReplayBytes) : null;
    this.run(req, res, sessionId, headers, body).catch((err: unknown) => {
      this.counters.failed++;
      this.log.error({ err }, "forwarding failed");
      sendJson(res, 502, { error: "the gateway failed to forward the request; try again" });
    });
  }

  /** Closes idle upstream connections. */
  close(): void {
    this.agent.destroy();
  }

  private async run(req: IncomingMessage, res: ServerResponse, sessionId: string, headers: OutgoingHttpHeaders, body: ReplayableBody | null): Promise<void> {
    const deadline = Date.now() + this.options.forwardTimeoutMs;
    let backoff = 10;
    for (;;) {
      if (res.destroyed) return; // the client went away
      const { owner, epoch } = this.node.locate(sessionId);
      const target = owner === null ? null : this.targetOf(owner);
      if (target === undefined) {
        this.counters.failed++;
        sendJson(res, 502, { error: `node ${owner} owns this session but serves no HTTP; start every worker with --http` });
        return;
      }
      if (target !== null) {
        const outcome = await this.attempt(target, req, res, headers, body, epoch);
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

  /** One try at one node. Resolves once the response is committed to the client, or with a retry. */
  private attempt(target: { host: string; port: number }, req: IncomingMessage, res: ServerResponse, headers: OutgoingHttpHeaders, body: ReplayableBody | null, epoch: number): Promise<Outcome> {
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

  /** The request's headers as the owner should see them. */
  private upstreamHeaders(req: IncomingMessage, sessionId: string, isNew: boolean): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    const connection = req.headers.connection;
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !isHopByHop(name, connection) && !name.startsWith("x-berth-")) out[name] = value;
    }
    const remote = req.socket.remoteAddress;
    if (remote !== undefined) out["x-forwarded-for"] = out["x-forwarded-for"] ? `${String(out["x-forwarded-for"])}, ${remote}` : remote;
    out["x-forwarded-proto"] ??= "http";
    if (req.headers.host !== undefined) out["x-forwarded-host"] ??= req.headers.host;
    out[H.forwardedBy] = this.node.id;
    if (isNew) {
      // The session starts here: the owner sees a valid cookie for it and sets it in its answer.
      out.cookie = this.cookies.replaceIn(req.headers.cookie, this.cookies.sign(sessionId));
      out[H.newSession] = "1";
    }
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

/** The owner's response headers without the hop-by-hop ones. */
function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connection = headers.connection;
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !isHopByHop(name, connection)) out[name] = value;
  }
  return out;
}
