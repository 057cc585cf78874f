import type { IncomingMessage, ServerResponse } from "node:http";
import { NotOwnerError } from "../errors.js";
import type { BerthNode } from "../node/BerthNode.js";
import { ClusterNode } from "../node/ClusterNode.js";
import { toMillis, type Duration } from "../time/duration.js";
import { HttpAppError } from "./errors.js";
import { renderExposition } from "../metrics/exposition.js";
import { httpFamilies } from "./httpMetrics.js";
import { metricsResponse } from "./serveMetrics.js";
import { Forwarder } from "./Forwarder.js";
import { H, sendJson, sendMisdirected } from "./protocol.js";
import { createRoutesListener, type RoutesListener } from "./routesApp.js";
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
}

/** A `node:http` request listener serving a node's HTTP traffic. */
export interface HttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  stats(): HttpStats;
  /** Closes idle connections to other nodes. */
  close(): void;
}

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
  const routes: RoutesListener | null = worker && options.app !== undefined ? createRoutesListener(options.app, { nodeId: node.id, calls: node, cookies, log: node.log }) : null;
  const forwarder =
    cluster === null
      ? null
      : new Forwarder(
          cluster,
          cookies,
          {
            forwardTimeoutMs: toMillis(options.forwardTimeout ?? "15s", "forwardTimeout"),
            responseTimeoutMs: toMillis(options.responseTimeout ?? "35s", "responseTimeout"),
            maxReplayBytes: options.maxReplayBytes ?? 1024 * 1024,
          },
          node.log,
        );
  const counters = { local: 0, misdirected: 0, rejectedCookies: 0 };

  const runLocal = (req: IncomingMessage, res: ServerResponse, id: string, isNew: boolean, ownerCheck: RequestSession["ownerCheck"]): void => {
    counters.local++;
    res.setHeader(H.node, node.id);
    (routes as RoutesListener)(req, res, { id, isNew, ownerCheck, touched: false, misdirected: null });
  };

  /** A forwarded request: run it if this node owns the session, else answer 421 (never forward twice). */
  const serveForwarded = (req: IncomingMessage, res: ServerResponse, c: ClusterNode, id: string, isNew: boolean, reconciled: boolean): void => {
    const { owner, epoch, partition } = c.locate(id);
    if (owner === c.id && routes !== null && c.membership.leaseValid()) {
      const ownerCheck = (): NotOwnerError | null => {
        const now = c.locate(id);
        return now.owner === c.id ? null : new NotOwnerError(partition, now.epoch, now.owner);
      };
      runLocal(req, res, id, isNew, ownerCheck);
      return;
    }
    if (!reconciled && Number(req.headers[H.epoch]) > epoch) {
      // The forwarder saw a newer view: catch up before saying no.
      void c.membership.reconcile().then(
        () => serveForwarded(req, res, c, id, isNew, true),
        () => serveForwarded(req, res, c, id, isNew, true),
      );
      return;
    }
    counters.misdirected++;
    sendMisdirected(res, c.id, epoch, owner);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.startsWith("/_berth/")) return internal(req, res);
    let id = cookies.fromHeader(req.headers.cookie);
    let isNew = false;
    const forwarded = req.headers[H.forwardedBy] !== undefined;
    if (id === null) {
      if (forwarded) {
        // The forwarder signed a cookie we cannot verify: the nodes' secrets differ.
        node.log.error({ from: req.headers[H.forwardedBy] }, "forwarded request with a session cookie this node cannot verify; every node needs the same BERTH_SECRET");
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
    if (forwarded) return serveForwarded(req, res, cluster, id, isNew, false);
    if (routes !== null && cluster.locate(id).owner === cluster.id) return runLocal(req, res, id, isNew, null);
    (forwarder as Forwarder).forward(req, res, id, isNew);
  };

  const stats = (): HttpStats => ({ ...counters, ...(forwarder?.counters ?? { forwarded: 0, retries: 0, failed: 0 }) });

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

  return Object.assign(handler, { stats, close: () => forwarder?.close() });
}
