import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { ClusterNode, type ClusterNodeOptions } from "../node/ClusterNode.js";
import { listen } from "./listen.js";
import { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from "./createHttpHandler.js";
import { sendJson } from "./protocol.js";
import { sessionCookies } from "./sessionCookie.js";

/** Where and how a node serves HTTP. */
export interface HttpServeOptions extends Omit<HttpHandlerOptions, "node"> {
  /** Default 0: any free port. */
  port?: number;
  /** Default `"127.0.0.1"`; `"0.0.0.0"` to accept connections from other machines. */
  host?: string;
  /** The URL other nodes use to reach this one. Default `http://<host>:<port>` (the machine's hostname for 0.0.0.0). */
  advertise?: string;
}

/** Options of `createHttpNode`: a cluster node's options plus `http`. */
export interface HttpNodeOptions extends ClusterNodeOptions {
  http: HttpServeOptions;
}

/** A cluster node serving HTTP. */
export interface HttpNode {
  readonly node: ClusterNode;
  /** The advertised URL (also in the node's record). */
  readonly url: string;
  readonly server: Server;
  readonly handler: HttpHandler;
  /** Leaves the cluster, then stops serving HTTP. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster node that serves the app's routes (a worker) or forwards them (a gateway,
 * `roles: ["gateway"]`) on its own HTTP port. The port is bound first, so the node joins the
 * cluster with its HTTP address in its record.
 *
 * @example
 * ```ts
 * import { createHttpNode, secretsFromEnv } from "berth/http";
 * import { Cart, http } from "./app.js";
 *
 * const { url } = await createHttpNode({
 *   actors: [Cart],
 *   nats: { servers: "nats://127.0.0.1:4222" },
 *   http: { app: http, port: 3000, secrets: secretsFromEnv() ?? [] },
 * });
 * console.log(`serving on ${url}`);
 * ```
 */
export async function createHttpNode(options: HttpNodeOptions): Promise<HttpNode> {
  const { http, ...nodeOptions } = options;
  sessionCookies({ ...http.cookie, secrets: http.secrets }); // a bad secret fails before anything starts
  const host = http.host ?? "127.0.0.1";
  let handler: HttpHandler | null = null;
  const server = createServer((req, res) => {
    if (handler !== null) handler(req, res);
    else sendJson(res, 503, { error: "this node is starting; try again" }, { "retry-after": "1" });
  });
  // Longer than the idle timeout of common load balancers (60 s), so they close idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const port = await listen(server, http.port ?? 0, host, "--http, PORT");
  const url = http.advertise ?? `http://${advertisedHost(host)}:${port}`;
  let node: ClusterNode;
  try {
    node = await ClusterNode.start({ ...nodeOptions, httpAddress: url });
  } catch (error) {
    server.close();
    throw error;
  }
  try {
    handler = createHttpHandler({ ...http, node });
  } catch (error) {
    await node.stop();
    server.close();
    throw error;
  }
  const h = handler;
  return {
    node,
    url,
    server,
    handler: h,
    async stop() {
      await node.stop(); // leave first: forwarders now get 421 from here and go to the new owners
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      });
      h.close();
    },
  };
}

function advertisedHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return hostname();
  return host.includes(":") ? `[${host}]` : host;
}
