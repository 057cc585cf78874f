import type { Context } from "hono";
import type { RequestSession } from "./sessionSink.js";
import type { BerthEnv } from "./types.js";

/**
 * What Berth knows about a request before its route runs, whichever way it arrived: over HTTP
 * at this node (keyed by Node's `IncomingMessage`, `c.env.incoming`) or forwarded over NATS
 * (keyed by its `FramedRequest`, `c.req.raw`).
 */
export interface RequestInfo {
  readonly session: RequestSession;
  /** The body's size when known up front (Content-Length, or a forwarded body); undefined when it streams. */
  readonly bodyLength: number | undefined;
  /** One request header, read without building a web `Headers` object. */
  header(name: string): string | undefined;
}

const infos = new WeakMap<object, RequestInfo>();

export function setRequestInfo(key: object, info: RequestInfo): void {
  infos.set(key, info);
}

/** The info of the request `c` serves, or undefined outside Berth's listeners (e.g. `app.request()` in a test). */
export function requestInfo(c: Context<BerthEnv>): RequestInfo | undefined {
  const incoming = c.env?.incoming;
  return infos.get(incoming ?? c.req.raw) ?? (incoming !== undefined ? infos.get(c.req.raw) : undefined);
}
