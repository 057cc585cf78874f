import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { CallSink } from "../actor/refs.js";
import { DeadlineExceededError, NodeStoppedError, NotOwnerError } from "../errors.js";
import type { Logger } from "../node/logger.js";
import { H } from "./protocol.js";
import type { SessionCookies } from "./sessionCookie.js";
import { sessionRefs, type RequestSession } from "./sessionSink.js";
import type { BerthEnv, HttpDefinition } from "./types.js";

/** Runs an app's routes for requests whose session this node owns. */
export type RoutesListener = (req: IncomingMessage, res: ServerResponse, session: RequestSession) => void;

/**
 * Builds the app's Hono app once per node: the session middleware (`c.var.session`, the
 * cookie of a new session), the body limit, the app's routes, and error answers that are
 * always JSON `{ "error": "..." }`.
 */
export function createRoutesListener(def: HttpDefinition, options: { nodeId: string; calls: CallSink; cookies: SessionCookies; log: Logger }): RoutesListener {
  const { nodeId, calls, cookies, log } = options;
  const sessions = new WeakMap<IncomingMessage, RequestSession>();
  const app = new Hono<BerthEnv>();

  app.use(async (c, next) => {
    const s = sessions.get(c.env.incoming);
    if (s === undefined) throw new Error("request reached the routes without a session; serve it through createHttpHandler");
    c.set("session", sessionRefs(calls, s));
    c.set("sessionId", s.id);
    c.set("newSession", s.isNew);
    c.set("nodeId", nodeId);
    await next();
    if (s.isNew && s.touched) c.header("set-cookie", cookies.setCookie(cookies.sign(s.id)), { append: true });
  });
  app.use(limitBody(def.bodyLimit));
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => errorResponse(err, c, sessions.get(c.env.incoming), log));
  def.setup(app);

  const listener = getRequestListener(app.fetch);
  return (req, res, session) => {
    sessions.set(req, session);
    void listener(req, res);
  };
}

/**
 * The request body limit (413 beyond `maxSize` bytes). A body with a Content-Length is judged
 * by its header, and a request without one (nor Transfer-Encoding) has no body, so neither
 * touches `c.req.raw.body` — doing so makes @hono/node-server build a full web `Request` and
 * stream for every request, GETs included, which cost ~10% of a worker's CPU in the
 * http-session benchmark. Chunked bodies are counted as they stream, by Hono's `bodyLimit`.
 */
function limitBody(maxSize: number): MiddlewareHandler<BerthEnv> {
  const tooLarge = (c: Context<BerthEnv>): Response => c.json({ error: `request body is larger than ${maxSize} bytes` }, 413);
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const { headers } = c.env.incoming;
    if (headers["transfer-encoding"] !== undefined) return streamed(c, next);
    const length = headers["content-length"];
    if (length !== undefined && Number(length) > maxSize) return tooLarge(c);
    await next();
  };
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
  if (err instanceof NotOwnerError) return c.json({ error: "the session is moving to another node; try again" }, 503);
  if (err instanceof NodeStoppedError) return c.json({ error: "this node is stopping; try again" }, 503);
  log.error({ err, method: c.req.method, path: c.req.path }, "route failed");
  return c.json({ error: "internal error" }, 500);
}
