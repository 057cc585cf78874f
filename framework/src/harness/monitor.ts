/**
 * Readiness probes over the HTTP monitoring port. Field names as served by nats-server 2.9.10:
 * - `/varz`: `server_name`, `port` — identifies the server answering (the monitor port is
 *   bound before the client port, so a stranger could hold it);
 * - `/healthz`: 200 `{"status":"ok"}`, else 503 `{"status":"unavailable","error":...}`; with
 *   JetStream in a cluster it is 503 until the server is current with the meta leader;
 * - `/jsz`: `config.store_dir` once JetStream runs; `meta_cluster.leader` (server name),
 *   `meta_cluster.cluster_size` in a cluster (`leader` names a dead leader for a few seconds
 *   after it dies, so it is only trusted together with `/healthz`);
 * - `/routez`: `num_routes`, `routes[].remote_id` (no `remote_name` in 2.9).
 * Each failed `/healthz` makes the server log `[WRN] Healthcheck failed`, so it is asked last.
 */

/** What a readiness probe checks. */
export interface ReadinessTarget {
  readonly name: string;
  readonly port: number;
  readonly httpPort: number;
  readonly jetstream: boolean;
  /** Distinct routes required (0 for a standalone server). */
  readonly minRoutes: number;
  /** Cluster member names; the meta leader must be one of them. Undefined when standalone. */
  readonly members: readonly string[] | undefined;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** GETs `http://127.0.0.1:<httpPort><path>`; undefined if nothing answered in time. */
export async function getMonitor(httpPort: number, path: string): Promise<{ status: number; body: Json } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, { signal: AbortSignal.timeout(1000) });
    const text = await response.text();
    let body: Json = {};
    try {
      body = asObject(JSON.parse(text)) ?? {};
    } catch {
      body = { text };
    }
    return { status: response.status, body };
  } catch {
    return undefined;
  }
}

/** The meta leader a server reports in `/jsz`, or undefined. */
export async function metaLeader(httpPort: number): Promise<string | undefined> {
  const jsz = await getMonitor(httpPort, "/jsz");
  const leader = asObject(jsz?.body["meta_cluster"])?.["leader"];
  return typeof leader === "string" && leader !== "" ? leader : undefined;
}

/** Probes once: undefined if `target` is ready, else a short description of what is missing. */
export async function probeReadiness(target: ReadinessTarget): Promise<string | undefined> {
  const varz = await getMonitor(target.httpPort, "/varz");
  if (!varz) return `monitoring port ${target.httpPort} does not answer`;
  if (varz.body["server_name"] !== target.name || varz.body["port"] !== target.port) {
    return `monitoring port ${target.httpPort} answers for another server (${String(varz.body["server_name"])})`;
  }
  if (target.jetstream) {
    const jsz = await getMonitor(target.httpPort, "/jsz");
    if (!asObject(jsz?.body["config"])?.["store_dir"]) return "JetStream is not running yet (/jsz has no config.store_dir)";
    if (target.members) {
      const leader = asObject(jsz?.body["meta_cluster"])?.["leader"];
      if (typeof leader !== "string" || !target.members.includes(leader)) {
        return `no JetStream meta leader yet (/jsz meta_cluster.leader = ${JSON.stringify(leader ?? null)})`;
      }
    }
  }
  if (target.minRoutes > 0) {
    const routez = await getMonitor(target.httpPort, "/routez");
    const routes = Array.isArray(routez?.body["routes"]) ? (routez.body["routes"] as unknown[]) : [];
    const remotes = new Set(routes.map((r) => asObject(r)?.["remote_id"]).filter((id) => typeof id === "string"));
    if (remotes.size < target.minRoutes) return `routes to ${remotes.size} of ${target.minRoutes} peers`;
  }
  // Last, because every failed health check writes a warning into the server's log.
  const health = await getMonitor(target.httpPort, "/healthz");
  if (health?.status !== 200) {
    return `/healthz says ${health ? String(health.body["error"] ?? health.status) : "nothing"}`;
  }
  return undefined;
}
