import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import type { Role } from "../membership/types.js";
import { createNode } from "../node/createNode.js";
import { createLogger } from "../node/logger.js";
import { keepRunningOnStrayErrors } from "../node/strayErrors.js";
import { httpOptions, parseAddress, type HttpCliOptions } from "../http/cli.js";
import { serveMetrics } from "../http/serveMetrics.js";
import type { ClusterNode } from "../node/ClusterNode.js";
import { createHttpNode } from "../http/createHttpNode.js";
import { appEntry, loadApp } from "./loadApp.js";
import { addNatsAuthOptions, natsAuthFrom, type NatsAuthFlags } from "./natsAuth.js";
import { resolveNatsUrls } from "./natsUrls.js";
import { toMillis, type Duration } from "../time/duration.js";

/** `berth node`: runs one node of an app against a NATS cluster until SIGTERM/SIGINT. */
export function registerNode(program: Command): void {
  const command = program
    .command("node")
    .description("run one node of an app on a NATS cluster")
    .option("--app <dir>", "the app folder (its package.json names the module exporting `actors`)", ".")
    .option("--nats <urls>", "NATS server URLs, comma-separated (default: $NATS_URL or the berth dev cluster)");
  addNatsAuthOptions(command)
    .option("--id <id>", "node id (default: random)")
    .option("--role <role>", "worker (hosts actors) or gateway (routes only)", "worker")
    .option("--cluster <name>", "cluster name: nodes on the same NATS with the same name form one cluster", "berth")
    .option("--capacity <n>", "relative weight in placement", "1")
    .option("--log-level <level>", "trace, debug, info, warn, error", process.env.BERTH_LOG_LEVEL ?? "info")
    .option("--shutdown-timeout <duration>", "how long a graceful stop may take before the process exits anyway (ms, or e.g. 45s); the node waits for its partitions to be taken for up to the smaller of this less 5 s and 80% of it", "30000")
    .option("--http <[host:]port>", "serve the app's HTTP routes (worker) or forward them (gateway) on this address; port 0 picks a free one")
    .option("--http-advertise <url>", "the URL other nodes use to reach this node's HTTP port (default http://<host>:<port>)")
    .option("--cookie-secure", "mark the session cookie Secure (behind HTTPS); also BERTH_COOKIE_SECURE=1")
    .option("--metrics <[host:]port>", "serve Prometheus metrics on GET /metrics at this address; port 0 picks a free one (see docs/guides/metrics.md)")
    .action(async (opts: { app: string; nats?: string; id?: string; role: string; cluster: string; capacity: string; logLevel: string; shutdownTimeout: string; metrics?: string } & NatsAuthFlags & HttpCliOptions) => {
      if (opts.role !== "worker" && opts.role !== "gateway") throw new ConfigError(`--role must be worker or gateway; got ${opts.role}`);
      const capacity = Number(opts.capacity);
      if (!(capacity > 0)) throw new ConfigError(`--capacity must be a positive number; got ${opts.capacity}`);
      const stopLimitMs = parseStopLimit(opts.shutdownTimeout);
      const app = await loadApp(opts.app);
      const log = createLogger({ level: opts.logLevel, bindings: opts.id ? { node: opts.id } : {} });
      const nodeOptions = {
        actors: app.actors,
        ...(app.providers ? { providers: app.providers } : {}),
        nats: { servers: resolveNatsUrls(opts.nats), ...natsAuthFrom(opts) },
        cluster: opts.cluster,
        roles: [opts.role as Role],
        capacity,
        // The hand-over wait fits inside the hard limit, leaving time to close the connections.
        shutdownTimeout: handOverWaitMs(stopLimitMs),
        logger: log,
        ...(opts.id ? { id: opts.id } : {}),
      };
      const http = await httpOptions(opts, appEntry(opts.app), opts.role as Role, log);
      // The metrics port is bound first, so a taken port fails before the node joins the cluster.
      let started: ClusterNode | null = null;
      const metrics =
        opts.metrics === undefined
          ? null
          : await serveMetrics({
              ...parseAddress(opts.metrics, "--metrics"),
              metrics: () => {
                if (started === null) throw new Error("the node is starting");
                return started.metrics();
              },
            });
      const served = http === null ? null : await createHttpNode({ ...nodeOptions, http });
      const node = served?.node ?? (await createNode(nodeOptions));
      started = node;
      // From here, an error a handler lets escape is logged, not the end of the process.
      keepRunningOnStrayErrors(log);
      log.info({ id: node.id, role: opts.role, epoch: node.view.epoch, pid: process.pid, ...(served ? { http: served.url } : {}), ...(metrics ? { metrics: metrics.url } : {}) }, "node up");
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, "stopping");
        const limit = setTimeout(() => {
          log.error({ timeoutMs: stopLimitMs }, "graceful stop took too long; exiting anyway");
          process.exit(1);
        }, stopLimitMs);
        limit.unref();
        (served ?? node).stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, "stop failed");
            process.exit(1);
          },
        );
      };
      node.onFatal((err) => {
        log.error({ err }, "the node stopped");
        process.exit(1);
      });
      process.on("SIGTERM", () => shutdown("SIGTERM"));
      process.on("SIGINT", () => shutdown("SIGINT"));
      // Started by tooling (berth dev, tests, benchmarks): never outlive it, even if it was SIGKILLed.
      if (process.env.BERTH_EXIT_WITH_PARENT === "1") {
        const parent = process.ppid;
        const watchParent = setInterval(() => {
          if (process.ppid !== parent) {
            clearInterval(watchParent);
            log.warn({ parent }, "parent process is gone; stopping");
            shutdown("parent-exit");
          }
        }, 500);
        watchParent.unref();
      }
      await new Promise<never>(() => undefined); // serve until a signal ends the process
    });
}

/** How long a stopping node waits for its partitions to be taken, within a hard stop limit of `limitMs`. */
export function handOverWaitMs(limitMs: number): number {
  const wait = Math.min(limitMs - 5_000, Math.floor(limitMs * 0.8));
  return wait > 0 ? wait : Math.floor(limitMs / 2);
}

/** `--shutdown-timeout`: milliseconds or a duration such as "45s", at least one second. */
function parseStopLimit(value: string): number {
  let ms: number;
  try {
    ms = toMillis(value as Duration, "--shutdown-timeout");
  } catch {
    ms = Number.NaN;
  }
  if (!(ms >= 1_000)) throw new ConfigError(`--shutdown-timeout must be at least 1000 ms, as a number of ms or a duration like "45s"; got ${JSON.stringify(value)}`);
  return Math.round(ms);
}
