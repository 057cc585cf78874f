import { ConfigError } from "../errors.js";
import type { HttpApp, HttpAppOptions, HttpDefinition } from "./types.js";

/** Default request body limit: 64 KiB. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/**
 * Declares an app's HTTP routes. `setup` registers them on a Hono app whose handlers run on
 * the node that owns the request's session; `c.var.session(Def)` is a typed reference to an
 * actor of that session. Export the result from the app module as `http`.
 *
 * @param setup registers routes on the Hono app (once per node)
 * @param options.bodyLimit largest request body in bytes (default 64 KiB); larger ones get 413
 * @param options.live routes streaming actors' live updates (`liveUpdates(path, Type)`)
 * @example
 * ```ts
 * import { defineHttp } from "berth/http";
 * import { Cart } from "./cart.js";
 *
 * export const http = defineHttp((app) => {
 *   app.get("/api/cart", async (c) => c.json(await c.var.session(Cart).get()));
 * });
 * ```
 */
export function defineHttp(setup: (app: HttpApp) => void, options: HttpAppOptions = {}): HttpDefinition {
  if (typeof setup !== "function") throw new ConfigError("defineHttp needs a function that registers routes: defineHttp((app) => { app.get(...) })");
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 0) throw new ConfigError(`bodyLimit must be a whole number of bytes; got ${options.bodyLimit}`);
  const live = options.live ?? [];
  if (!Array.isArray(live)) throw new ConfigError("defineHttp's live option takes an array of liveUpdates(path, Type) routes");
  return { kind: "berth-http", setup, bodyLimit, live };
}

/** Whether a value is what `defineHttp` returns. */
export function isHttpDefinition(value: unknown): value is HttpDefinition {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "berth-http" && typeof (value as { setup?: unknown }).setup === "function";
}
