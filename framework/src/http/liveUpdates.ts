import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { actorType } from "../actor/defineActor.js";
import type { ActorUpdate, AnyActorDefinition, UpdateOf, Watch } from "../actor/types.js";
import { ConfigError } from "../errors.js";
import type { BerthNode } from "../node/BerthNode.js";
import { H, sendJson } from "./protocol.js";

/**
 * Live update streams over HTTP: Server-Sent Events (`text/event-stream`) of one actor's
 * updates (`ctx.publish`), served by whichever node the request enters — never forwarded, since
 * `node.watch` reaches the actor wherever it lives. A stream outlives moves and failovers of
 * its actor; only the node serving it ending closes it (the browser's `EventSource` then
 * reconnects through the load balancer to another node).
 *
 * Each update is one SSE message: `id: <n>` (counting from 1 per stream) and `data: <the update as JSON>`. An
 * `event: missed` message comes before an update when some may have been missed, and first
 * thing on a reconnect (a request with `Last-Event-ID`): updates are not replayed, so the client
 * re-reads the state then. A comment line every 15 s keeps proxies from closing an idle stream.
 */

/** What a live route's `id` function receives. */
export interface LiveRequest {
  /** The path's `:name` parameters, decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The request's session id (from its signed cookie), or null when it carried none. */
  readonly sessionId: string | null;
  /** The node serving the stream, to ask actors whether this session may watch. */
  readonly node: BerthNode;
}

/** One live route, as `liveUpdates` makes it. */
export interface LiveRoute {
  readonly kind: "berth-live";
  readonly path: string;
  readonly def: AnyActorDefinition;
  readonly id: (req: LiveRequest) => string | null | Promise<string | null>;
  /** True without an `id` function: the stream watches the session's own actor. */
  readonly ownSession: boolean;
}

/**
 * A `GET` route streaming one actor's live updates as Server-Sent Events. List it in
 * `defineHttp`'s `live` option. Without `id`, the stream watches the actor of the request's
 * session (a request without a session cookie gets 401); with it, `id` names the actor to watch
 * from the request, or returns null to refuse it (403) — check there that the session may watch.
 * Updates are sent as `JSON.stringify` writes them: publish plain data on streamed types.
 * @example
 * ```ts
 * import { defineHttp, liveUpdates } from "berth/http";
 * import { Cart, Room } from "./actors.js";
 *
 * export const http = defineHttp((app) => { ... }, {
 *   live: [
 *     liveUpdates("/api/cart/updates", Cart),
 *     liveUpdates("/api/rooms/:room/updates", Room, async ({ params, sessionId, node }) =>
 *       sessionId !== null && (await node.ref(Room, params.room!).isMember(sessionId)) ? params.room! : null),
 *   ],
 * });
 * ```
 */
export function liveUpdates<A extends AnyActorDefinition>(path: string, def: A, id?: (req: LiveRequest) => string | null | Promise<string | null>): LiveRoute {
  const type = actorType(def);
  if (!type.publishes) throw new ConfigError(`liveUpdates("${path}", ${type.name}): ${type.name} declares no live updates (updates: updates<YourUpdate>() in its defineActor)`);
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("/_berth/")) {
    throw new ConfigError(`liveUpdates path must start with "/" and not with "/_berth/"; got ${JSON.stringify(path)}`);
  }
  if (id !== undefined && typeof id !== "function") throw new ConfigError(`liveUpdates("${path}"): id must be a function of the request`);
  return { kind: "berth-live", path, def, id: id ?? ((req) => req.sessionId), ownSession: id === undefined };
}

/** Limits of the live streams of one node. */
export interface LiveLimits {
  /** Streams open at once on this node; more get 503. */
  readonly maxStreams: number;
  /** Bytes a slow client may leave unread before its stream is closed (it reconnects and is told it missed some). */
  readonly maxBufferedBytes: number;
  readonly heartbeatMs: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = { maxStreams: 10_000, maxBufferedBytes: 1024 * 1024, heartbeatMs: 15_000 };

interface Compiled {
  readonly route: LiveRoute;
  readonly segments: readonly string[];
}

/** The live routes of an app, matched by path, and the streams they serve. */
export class LiveStreams {
  private readonly compiled: Compiled[];
  private readonly open = new Set<ServerResponse>();
  /** Streams served so far, and open now. */
  served = 0;

  constructor(
    routes: readonly LiveRoute[],
    private readonly node: BerthNode,
    private readonly log: Logger,
    private readonly limits: LiveLimits = DEFAULT_LIVE_LIMITS,
  ) {
    const seen = new Set<string>();
    this.compiled = routes.map((route) => {
      if (route?.kind !== "berth-live") throw new ConfigError("defineHttp's live option takes routes made by liveUpdates(path, Type)");
      if (seen.has(route.path)) throw new ConfigError(`two live routes for ${route.path}`);
      seen.add(route.path);
      return { route, segments: route.path.split("/") };
    });
  }

  get openStreams(): number {
    return this.open.size;
  }

  /** Serves `req` if it is a live route's; returns false for anything else. */
  serve(req: IncomingMessage, res: ServerResponse, sessionId: string | null): boolean {
    if (this.compiled.length === 0) return false;
    const url = new URL(req.url ?? "/", "http://x");
    const parts = url.pathname.split("/");
    for (const c of this.compiled) {
      const params = match(c.segments, parts);
      if (params === undefined) continue;
      if (params === null) {
        sendJson(res, 400, { error: "the path has an invalid percent-encoding" });
        return true;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJson(res, 405, { error: `${c.route.path} streams live updates: use GET` }, { allow: "GET, HEAD" });
        return true;
      }
      void this.start(c.route, req, res, { params, query: url.searchParams, sessionId, node: this.node });
      return true;
    }
    return false;
  }

  /** Ends every stream (the node stops): clients reconnect to another node. */
  close(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }

  private async start(route: LiveRoute, req: IncomingMessage, res: ServerResponse, live: LiveRequest): Promise<void> {
    let id: string | null;
    try {
      id = await route.id(live);
    } catch (err) {
      this.log.warn({ err, path: route.path }, "a live route's id function threw");
      sendJson(res, 500, { error: "the live route could not decide what to watch" });
      return;
    }
    if (id === null) {
      if (route.ownSession) sendJson(res, 401, { error: "this stream watches your session: make a request that starts one first" });
      else sendJson(res, 403, { error: "not allowed to watch this" });
      return;
    }
    if (typeof id !== "string" || id.length === 0 || id.length > 256) {
      sendJson(res, 500, { error: "the live route named an invalid actor id" });
      return;
    }
    if (this.open.size >= this.limits.maxStreams) {
      sendJson(res, 503, { error: `this node serves ${this.limits.maxStreams} live streams already; try again` }, { "retry-after": "2" });
      return;
    }
    if (res.destroyed || req.destroyed) return;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no", [H.node]: this.node.id });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    this.open.add(res);
    this.served++;
    res.write(`retry: 2000\n: watching ${route.def.name}\n\n`);
    // A reconnecting EventSource sends the id of the last message it got: what came since is not replayed.
    if (req.headers["last-event-id"] !== undefined) res.write("event: missed\ndata: {}\n\n");
    let watch: Watch | null = null;
    let sent = 0;
    const end = (): void => {
      watch?.stop();
      watch = null;
      clearInterval(heartbeat);
      this.open.delete(res);
      if (!res.writableEnded) res.end();
    };
    const heartbeat = setInterval(() => res.write(": ping\n\n"), this.limits.heartbeatMs);
    heartbeat.unref();
    req.on("close", end);
    res.on("close", end);
    try {
      watch = this.node.watch(route.def, id, (u: ActorUpdate<UpdateOf<AnyActorDefinition>>) => {
        if (res.writableEnded) return;
        let data: string;
        try {
          data = JSON.stringify(u.data) ?? "null";
        } catch {
          data = "null";
        }
        res.write(`${u.missed ? "event: missed\ndata: {}\n\n" : ""}id: ${++sent}\ndata: ${data}\n\n`);
        // A client that does not read: close rather than buffer without bound (it reconnects, told it missed some).
        if (res.writableLength > this.limits.maxBufferedBytes) end();
      });
    } catch (err) {
      this.log.warn({ err, path: route.path }, "could not watch for a live stream");
      end();
    }
  }
}

/** The params of `parts` for a route's `segments`; undefined when it does not match, null for a bad encoding. */
function match(segments: readonly string[], parts: readonly string[]): Record<string, string> | null | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string;
    const p = parts[i] as string;
    if (s.startsWith(":")) {
      if (p.length === 0) return undefined;
      try {
        params[s.slice(1)] = decodeURIComponent(p);
      } catch {
        return null;
      }
    } else if (s !== p) return undefined;
  }
  return params;
}
