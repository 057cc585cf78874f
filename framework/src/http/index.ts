/**
 * `berth/http`: an app's routes on its session actors, signed session cookies, and the
 * cluster-aware forwarding that sends each request to the node owning its session.
 * Guide: docs/guides/http.md.
 */
export { defineHttp, DEFAULT_BODY_LIMIT } from "./defineHttp.js";
export { jsonBody } from "./jsonBody.js";
export { liveUpdates, type LiveRequest, type LiveRoute } from "./liveUpdates.js";
export type { ActorRefs, BerthEnv, BerthVariables, HttpApp, HttpAppOptions, HttpDefinition, SessionRefs } from "./types.js";
export { createHttpHandler, type HttpHandler, type HttpHandlerOptions, type HttpStats } from "./createHttpHandler.js";
export { createHttpNode, type HttpNode, type HttpNodeOptions, type HttpServeOptions } from "./createHttpNode.js";
export { serveMetrics, type MetricsServer } from "./serveMetrics.js";
export { sessionCookies, secretsFromEnv, type SessionCookieOptions, type SessionCookies } from "./sessionCookie.js";
export { HttpAppError, SessionSecretError } from "./errors.js";
/** Hono's helpers most routes need, so apps import them from one place. */
export { HTTPException } from "hono/http-exception";
export { validator } from "hono/validator";
