import type { IncomingMessage, ServerResponse } from "node:http";
import { NotOwnerError } from "../errors.js";
import type { BerthNode } from "../node/BerthNode.js";
import { limitedLog } from "../node/logger.js";
import { ClusterNode } from "../node/ClusterNode.js";
import { toMillis, type Duration } from "../time/duration.js";
import { HttpAppError } from "./errors.js";
import { renderExposition } from "../metrics/exposition.js";
import { httpFamilies } from "./httpMetrics.js";
import { metricsResponse } from "./serveMetrics.js";
import { NatsTransport } from "../transport/nats/NatsTransport.js";
import { Forwarder } from "./Forwarder.js";
import { FramedRequest } from "./FramedRequest.js";
import type { RequestFrame } from "./frames.js";
import { FrameServer, jsonParts } from "./FrameServer.js";
import { H, outOfTouchMessage, misdirectedBody, sendJson, sendMisdirected } from "./protocol.js";
import { responseParts, type ResponseParts } from "./responseParts.js";
import { createRoutes, type Routes } from "./routesApp.js";
import { LiveStreams } from "./liveUpdates.js";
import { sessionCookies, type SessionCookieOptions } from "./sessionCookie.js";
import type { RequestSession } from "./sessionSink.js";
import type { HttpDefinition } from "./types.js";

/** Options of `createHttpHandler`. */
export interface HttpHandlerOptions {
  /** The node: a cluster node (worker or gateway), or a standalone node (everything is local). */
  node: BerthNode;
  /** The app's routes (`defineHttp`). Required on workers; gateways only forward. */
  app?: HttpDefinition;
  /** Session cookie secrets, newest first (see `secretsFromEnv`); the same on every node. */
  secrets: readonly string[];
  /** Cookie name and attributes. */
  cookie?: Omit<SessionCookieOptions, "secrets">;
  /** How long a request may wait for its session's owner during moves and failover. Default `"15s"`. */
  forwardTimeout?: Duration;
  /** How long the owner may take to answer a forwarded request. Default `"35s"` (above the call timeout). */
  responseTimeout?: Duration;
  /** Request bodies up to this size can be re-sent to another node after a 421. Default 1 MiB. */
  maxReplayBytes?: number;
  /**
   * Requests with a body up to this size (by Content-Length) are forwarded over NATS as one
   * message; larger and chunked ones over HTTP, streamed. Default 64 KiB; 0 forwards everything
   * over HTTP.
   */
  maxFramedBytes?: number;
}

/** Counters of the HTTP layer of one node. */
export interface HttpStats {
  /** Requests whose route ran here. */
  readonly local: number;
  readonly forwarded: number;
  /** Forward attempts repeated after a 421 or an unreachable owner. */
  readonly retries: number;
  /** Forwarded requests answered with a gateway error (502/503/504). */
  readonly failed: number;
  /** Forwarded requests this node answered 421 (not the owner). */
  readonly misdirected: number;
  /** Requests whose session cookie did not verify (each started a new session). */
  readonly rejectedCookies: number;
  /** Requests forwarded over NATS to this node that did not decode (answered 400). */
  readonly malformed: number;
  /** Requests refused with 503 at once because this node was out of touch with the cluster (its membership lease had lapsed). */
  readonly outOfTouch: number;
  /** Live update streams open on this node, and opened so far. */
  readonly liveOpen: number;
  readonly liveServed: number;
}

/** A `node:http` request listener serving a node's HTTP traffic. */
export interface HttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  stats(): HttpStats;
  /** Closes idle connections to other nodes and stops taking forwarded requests. */
  close(): void;
}

/** Default `maxFramedBytes`. */
const FRAMED_BYTES = 64 * 1024;

/**
 * The HTTP front of a node. For each request it reads the session from the signed cookie
 * (or starts a new one), finds the session's owner in the cluster view, and either runs the
 * app's route here (this node owns the session) or forwards the request to the owner's HTTP
 * address. Every response carries `x-berth-node`: the node that ran the route.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { createHttpHandler, secretsFromEnv } from "berth/http";
 *
 * const handler = createHttpHandler({ node, app: http, secrets: secretsFromEnv() ?? [] });
 * createServer(handler).listen(3000);
 * ```
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const { node } = options;
  const cookies = sessionCookies({ ...options.cookie, secrets: options.secrets });
  const cluster = node instanceof ClusterNode ? node : null;
  const worker = cluster === null || cluster.isWorker;
  if (worker && options.app === undefined) throw new HttpAppError(`node ${node.id} hosts actors but has no HTTP routes to run`);
  const routes: Routes | null = worker && options.app !== undefined ? createRoutes(options.app, { nodeId: node.id, calls: node, cookies, log: node.log }) : null;
  // Forwarded requests travel on their own NATS subject (berth.<cluster>.http.<node>), beside the node's calls.
  const transport = cluster === null ? null : new NatsTransport(cluster.nc, cluster.id, cluster.cluster, { service: "http" });
  const forwarder =
    cluster === null || transport === null
      ? null
      : new Forwarder(
          cluster,
          transport,
          cookies,
          {
            forwardTimeoutMs: toMillis(options.forwardTimeout ?? "15s", "forwardTimeout"),
            responseTimeoutMs: toMillis(options.responseTimeout ?? "35s", "responseTimeout"),
            maxReplayBytes: options.maxReplayBytes ?? 1024 * 1024,
            maxFramedBytes: Math.min(options.maxFramedBytes ?? FRAMED_BYTES, Math.floor(transport.maxPayload / 4)),
          },
          node.log,
        );
  // Live update streams are served by the node the request entered: node.watch reaches the actor anywhere.
  const live = options.app !== undefined && options.app.live.length > 0 ? new LiveStreams(options.app.live, node, node.log) : null;
  const counters = { local: 0, misdirected: 0, rejectedCookies: 0, outOfTouch: 0 };
  // A misconfiguration, or a client faking the forwarding header: logged at most 10 a minute.
  const unverifiedForward = limitedLog(node.log, "error", "forwarded request with a session cookie this node cannot verify; every node needs the same BERTH_SECRET");
  const nodeHeader = [H.node, node.id];

  const runLocal = (req: IncomingMessage, res: ServerResponse, id: string, isNew: boolean, ownerCheck: RequestSession["ownerCheck"]): void => {
    counters.local++;
    res.setHeader(H.node, node.id);
    (routes as Routes).listener(req, res, { id, isNew, ownerCheck, touched: false, misdirected: null });
  };

  /**
   * A request another node forwarded: `run` it if this node owns the session (with the check
   * that makes its first actor call answer 421 if the session moved meanwhile), else `refuse`
   * it — never forward twice. A forwarder with a newer view makes this node catch up first.
   */
  const admitForwarded = (c: ClusterNode, id: string, forwarderEpoch: number, run: (ownerCheck: () => NotOwnerError | null) => void, refuse: (epoch: number, owner: string | null) => void, reconciled = false): void => {
    const { owner, epoch, partition } = c.locate(id);
    if (owner === c.id && routes !== null && c.membership.leaseValid()) {
      run(() => {
        const now = c.locate(id);
        return now.owner === c.id ? null : new NotOwnerError(partition, now.epoch, now.owner);
      });
      return;
    }
    if (!reconciled && forwarderEpoch > epoch) {
      const again = (): void => admitForwarded(c, id, forwarderEpoch, run, refuse, true);
      void c.membership.reconcile().then(again, again);
      return;
    }
    counters.misdirected++;
    refuse(epoch, owner);
  };

  /** A request forwarded over NATS (FrameServer): the same checks as over HTTP, the answer as parts. */
  const serveFrame = (c: ClusterNode, frame: RequestFrame): Promise<ResponseParts> => {
    const fr = new FramedRequest(frame.method, `http://${hostOf(frame.headers)}${frame.url}`, frame.headers, frame.body);
    const id = cookies.fromHeader(fr.header("cookie"));
    if (id === null) {
      unverifiedForward({ from: frame.from });
      return Promise.resolve(jsonParts(500, { error: "cluster misconfigured: nodes use different session secrets (BERTH_SECRET)" }));
    }
    return new Promise<ResponseParts>((resolve) =>
      admitForwarded(
        c,
        id,
        frame.epoch,
        (ownerCheck) => {
          counters.local++;
          (routes as Routes).fetch(fr, { id, isNew: frame.newSession, ownerCheck, touched: false, misdirected: null }).then(
            (res) =>
              responseParts(res).then((parts) => {
                parts.headers.push(...nodeHeader);
                resolve(parts);
              }),
            (err: unknown) => {
              node.log.error({ err, method: frame.method, path: frame.url }, "route failed");
              resolve(jsonParts(500, { error: "internal error" }, nodeHeader));
            },
          ).catch((err: unknown) => {
            node.log.error({ err, method: frame.method, path: frame.url }, "route answer could not be read");
            resolve(jsonParts(500, { error: "internal error" }, nodeHeader));
          });
        },
        (epoch, owner) => resolve(jsonParts(421, misdirectedBody(c.id, epoch, owner), [H.misdirected, "1", H.epoch, String(epoch)])),
      ),
    );
  };
  const frames = cluster !== null && transport !== null && routes !== null ? new FrameServer(transport, (frame) => serveFrame(cluster, frame), node.log) : null;

  /** A request forwarded over HTTP. */
  const serveForwarded = (req: IncomingMessage, res: ServerResponse, c: ClusterNode, id: string, isNew: boolean): void =>
    admitForwarded(
      c,
      id,
      Number(req.headers[H.epoch]),
      (ownerCheck) => runLocal(req, res, id, isNew, ownerCheck),
      (epoch, owner) => sendMisdirected(res, c.id, epoch, owner),
    );

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.startsWith("/_berth/")) return internal(req, res);
    let id = cookies.fromHeader(req.headers.cookie);
    let isNew = false;
    const forwarded = req.headers[H.forwardedBy] !== undefined;
    // A node cut off from NATS falls through to the 503 below: its watches would receive nothing.
    if (live !== null && !forwarded && cluster?.membership.leaseValid() !== false && live.serve(req, res, id)) return;
    if (id === null) {
      if (forwarded) {
        // The forwarder signed a cookie we cannot verify: the nodes' secrets differ.
        unverifiedForward({ from: req.headers[H.forwardedBy] });
        sendJson(res, 500, { error: "cluster misconfigured: nodes use different session secrets (BERTH_SECRET)" });
        return;
      }
      if (req.headers.cookie?.includes(`${cookies.name}=`)) counters.rejectedCookies++;
      id = cookies.newId();
      isNew = true;
    } else if (forwarded && req.headers[H.newSession] === "1") {
      isNew = true;
    }
    if (cluster === null) return runLocal(req, res, id, isNew, null);
    if (!cluster.membership.leaseValid()) {
      // Cut off from NATS (or not up): it can neither serve nor forward, and holding the request
      // until a timeout only keeps the client from trying another node. Its health check says so too.
      counters.outOfTouch++;
      return sendJson(res, 503, { error: outOfTouchMessage(cluster) }, { "retry-after": "1" });
    }
    if (forwarded) return serveForwarded(req, res, cluster, id, isNew);
    if (routes !== null && cluster.locate(id).owner === cluster.id) return runLocal(req, res, id, isNew, null);
    (forwarder as Forwarder).forward(req, res, id, isNew);
  };

  const stats = (): HttpStats => ({ ...counters, ...(forwarder?.counters ?? { forwarded: 0, retries: 0, failed: 0 }), malformed: frames?.malformed ?? 0, liveOpen: live?.openStreams ?? 0, liveServed: live?.served ?? 0 });

  /**
   * `/_berth/health`: for load balancers — 200 while this node is up and its lease holds.
   * `/_berth/metrics`: the node's and this HTTP layer's metrics for Prometheus (docs/guides/metrics.md).
   */
  const internal = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/_berth/metrics") return metricsResponse(req, res, () => node.metrics() + renderExposition(httpFamilies(stats()), node.metricLabels()));
    if (path !== "/_berth/health") return sendJson(res, 404, { error: "unknown Berth endpoint; try /_berth/health or /_berth/metrics" });
    if (cluster === null) return sendJson(res, 200, { node: node.id, ok: true, http: stats() });
    const ok = cluster.membership.state === "up" && cluster.membership.leaseValid();
    sendJson(res, ok ? 200 : 503, { node: cluster.id, ok, roles: cluster.roles, state: cluster.membership.state, epoch: cluster.view.epoch, http: stats() });
  };

  const close = (): void => {
    live?.close();
    forwarder?.close();
    frames?.close();
    void transport?.close().catch(() => undefined);
  };
  return Object.assign(handler, { stats, close });
}

const VALID_HOST = /^[A-Za-z0-9._-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/;

/** The Host of a forwarded request, for its URL (as @hono/node-server builds it), or "localhost". */
function hostOf(headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === "host") {
      const h = headers[i + 1] as string;
      return VALID_HOST.test(h) ? h : "localhost";
    }
  }
  return "localhost";
}
