import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { EXPOSITION_CONTENT_TYPE } from "../metrics/exposition.js";
import { listen } from "./listen.js";

/** A running metrics listener. */
export interface MetricsServer {
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/** Answers a metrics request (GET or HEAD) with `metrics()` in the exposition format; other methods with 405. */
export function metricsResponse(req: IncomingMessage, res: ServerResponse, metrics: () => string): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    res.end("only GET /metrics here\n");
    return;
  }
  let body: string;
  try {
    body = metrics();
  } catch (error) {
    res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return;
  }
  res.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * Serves a node's metrics for Prometheus on its own port: `GET /metrics` in the text exposition
 * format. This is what `berth node --metrics <[host:]port>` starts.
 *
 * @param options.host default `"127.0.0.1"`; `"0.0.0.0"` for scrapers on other machines
 * @param options.port 0 picks a free one
 * @example
 * ```ts
 * const m = await serveMetrics({ port: 9464, metrics: () => node.metrics() });
 * console.log(m.url); // http://127.0.0.1:9464/metrics
 * ```
 */
export async function serveMetrics(options: { host?: string; port: number; metrics: () => string }): Promise<MetricsServer> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found; metrics are at /metrics\n");
      return;
    }
    metricsResponse(req, res, options.metrics);
  });
  const port = await listen(server, options.port, host, "--metrics");
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
