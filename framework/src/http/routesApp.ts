import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { CallSink } from "../actor/refs.js";
import { CallOutcomeUnknownError, DeadlineExceededError, NodeStoppedError, NotOwnerError, ReplicationError } from "../errors.js";
import type { Logger } from "../node/logger.js";
import { H } from "./protocol.js";
import type { SessionCookies } from "./sessionCookie.js";
import type { FramedRequest } from "./FramedRequest.js";
import { requestInfo, setRequestInfo } from "./requestInfo.js";
import { requestRefs, type RequestSession } from "./sessionSink.js";
import type { BerthEnv, HttpDefinition } from "./types.js";

/** An app's routes, built once per node, for requests whose session this node owns. */
export interface Routes {
  /** Serves a request that arrived over HTTP at this node. */
  listener(req: IncomingMessage, res: ServerResponse, session: RequestSession): void;
  /** Runs a request forwarded over NATS; always resolves (errors become JSON answers). */
  fetch(req: FramedRequest, session: RequestSession): Promise<Response>;
}

/** What a forwarded request's route finds in `c.env`: no Node request or response. */
const FRAMED_ENV: BerthEnv["Bindings"] = Object.freeze({});

/**
 * Builds the app's Hono app once per node: the session middleware (`c.var.session`, the
 * cookie of a new session), the body limit, the app's routes, and error answers that are
 * always JSON `{ "error": "..." }`.
 */
export function createRoutes(def: HttpDefinition, options: { nodeId: string; calls: CallSink; cookies: SessionCookies; log: Logger }): Routes {
  const { nodeId, calls, cookies, log } = options;
  const app = new Hono<BerthEnv>();

  app.use(async (c, next) => {
    const s = requestInfo(c)?.session;
    if (s === undefined) throw new Error("request reached the routes without a session; serve it through createHttpHandler");
    const refs = requestRefs(calls, s);
    c.set("session", refs.session);
    c.set("ref", refs.ref);
    c.set("sessionId", s.id);
    c.set("newSession", s.isNew);
    c.set("nodeId", nodeId);
    await next();
    if (s.isNew && s.touched) c.header("set-cookie", cookies.setCookie(cookies.sign(s.id)), { append: true });
  });
  app.use(limitBody(def.bodyLimit));
  app.notFound(async (c) => {
    // A path the app serves, with another method: 405 and the methods it takes (OPTIONS: 204).
    const allowed = await allowedMethods(c.req.path);
    // A method that matches but found nothing (a method-specific middleware on "*") is a plain miss.
    const asked = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (allowed.length === 0 || allowed.includes(asked)) return c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404);
    const allow = [...allowed, ...(allowed.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", ");
    if (c.req.method === "OPTIONS") return c.body(null, 204, { allow });
    return c.json({ error: `${c.req.method} is not allowed on ${c.req.path}; it takes ${allow}` }, 405, { allow });
  });
  app.onError((err, c) => errorResponse(err, c, requestInfo(c)?.session, log));
  def.setup(app);

  // Which methods the app's routes take on a path: asked of a copy of its routes that only
  // answers 204, built at the first miss (after `setup` registered them).
  let probe: { readonly app: Hono; readonly methods: readonly string[] } | null = null;
  const allowedMethods = async (path: string): Promise<string[]> => {
    if (probe === null) {
      const routes = app.routes.filter((r) => r.method !== "ALL");
      const copy = new Hono();
      for (const r of routes) copy.on(r.method, r.path, (c) => c.body(null, 204));
      probe = { app: copy, methods: [...new Set(routes.map((r) => r.method))] };
    }
    const { app: copy, methods } = probe;
    const out: string[] = [];
    for (const method of methods) if ((await copy.request(path, { method })).status === 204) out.push(method);
    return out;
  };

  const listener = getRequestListener(app.fetch);
  return {
    listener(req, res, session) {
      const { headers } = req;
      const length = headers["content-length"];
      setRequestInfo(req, {
        session,
        bodyLength: headers["transfer-encoding"] !== undefined ? undefined : length === undefined ? 0 : Number(length),
        header: (name) => {
          const v = headers[name];
          return Array.isArray(v) ? v.join(", ") : v;
        },
      });
      void listener(req, res);
    },
    fetch(req, session) {
      setRequestInfo(req, { session, bodyLength: req.bodyLength, header: (name) => req.header(name) });
      try {
        // A FramedRequest answers everything Hono and routes read of a Request (FramedRequest.ts).
        return Promise.resolve(app.fetch(req as unknown as Request, FRAMED_ENV));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

/**
 * The request body limit (413 beyond `maxSize` bytes). A body of known size (Content-Length, or
 * forwarded whole) is judged by its size, so this never touches `c.req.raw.body` — doing so
 * makes @hono/node-server build a full web `Request` and stream for every request, GETs
 * included, which cost ~10% of a worker's CPU in the http-session benchmark. Chunked bodies are
 * counted as they stream, by Hono's `bodyLimit`.
 */
function limitBody(maxSize: number): MiddlewareHandler<BerthEnv> {
  const tooLarge = (c: Context<BerthEnv>): Response => c.json({ error: `request body is larger than ${maxSize} bytes` }, 413);
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const info = requestInfo(c);
    if (info === undefined || info.bodyLength === undefined) return streamed(c, next);
    if (info.bodyLength > maxSize || Number.isNaN(info.bodyLength)) return tooLarge(c);
    await next();
  };
}

/** Node's error for a request body cut off by the client (it closed or reset the connection). */
function clientWentAway(err: Error): boolean {
  return err.message === "aborted" && (err as NodeJS.ErrnoException).code === "ECONNRESET";
}

/** The JSON answer for an error a route threw (or Berth raised on its behalf). */
function errorResponse(err: Error, c: Context<BerthEnv>, session: RequestSession | undefined, log: Logger): Response {
  if (err instanceof HTTPException) {
    if (err.res !== undefined) return err.res;
    return c.json({ error: err.message || "bad request" }, err.status);
  }
  if (err instanceof NotOwnerError && session?.misdirected === err) {
    // Raised by the owner check before any turn ran (sessionSink.ts): the forwarder retries.
    c.header(H.misdirected, "1");
    c.header(H.epoch, String(err.epoch));
    return c.json({ error: err.message, epoch: err.epoch, owner: err.owner }, 421);
  }
  if (err instanceof DeadlineExceededError) return c.json({ error: "the session did not answer in time; try again" }, 504);
  // The turn may have run (its replication was not confirmed, or a retry came after its outcome was forgotten).
  if (err instanceof ReplicationError || err instanceof CallOutcomeUnknownError) return c.json({ error: "this request may or may not have been applied; reload to check before trying again" }, 502);
  if (err instanceof NotOwnerError) return c.json({ error: "the session is moving to another node; try again" }, 503);
  if (err instanceof NodeStoppedError) return c.json({ error: "this node is stopping; try again" }, 503);
  if (clientWentAway(err)) {
    // The client closed the connection while its body was being read: nobody reads this answer.
    log.debug({ method: c.req.method, path: c.req.path }, "client closed the request before its body was read");
    return c.json({ error: "the request was closed before its body arrived" }, 400);
  }
  log.error({ err, method: c.req.method, path: c.req.path }, "route failed");
  return c.json({ error: "internal error" }, 500);
}
