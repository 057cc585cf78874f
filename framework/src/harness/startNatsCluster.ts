import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../errors.js";
import { PORT_ATTEMPTS, readyTimeout } from "./defaults.js";
import { NatsServerStartError } from "./errors.js";
import { findNatsServer } from "./findNatsServer.js";
import { freePorts } from "./freePorts.js";
import { metaLeader } from "./monitor.js";
import { NatsServer } from "./NatsServer.js";
import { checkName, serverSpec } from "./serverSpec.js";
import type { NatsCluster, StartNatsClusterOptions } from "./types.js";

/** Waits until every server names the same meta leader, one of the members. */
async function waitForAgreedLeader(servers: readonly NatsServer[], deadline: number, timeoutMs: number): Promise<void> {
  const names = servers.map((s) => s.name);
  for (;;) {
    const leaders = await Promise.all(servers.map((s) => metaLeader(s.httpPort)));
    const first = leaders[0];
    if (first !== undefined && names.includes(first) && leaders.every((l) => l === first)) return;
    const reporter = servers[0];
    if (Date.now() >= deadline && reporter) {
      throw new NatsServerStartError(
        reporter.name,
        "timeout",
        `and its peers did not agree on a JetStream meta leader within ${timeoutMs} ms ` +
          `(leaders seen: ${servers.map((s, i) => `${s.name}→${leaders[i] ?? "none"}`).join(", ")})`,
        reporter.logFile,
        "",
      );
    }
    await sleep(50);
  }
}

/**
 * Starts a JetStream cluster of `size` (default 3) `nats-server` processes named `n1`…`n<size>`
 * on free loopback ports, each in `<dir>/n<i>/`, with routes between all of them, and waits
 * until each server is healthy (`/healthz`), routed to all the others (`/routez`), and all
 * agree on a JetStream meta leader (`/jsz` `meta_cluster.leader`), so R3 streams can be
 * created at once. If a port was taken in the meantime, the whole cluster is retried on new ports.
 *
 * Servers are killed if this process exits or gets SIGINT/SIGTERM, but tests should still call
 * `cluster.stop()` in `test.after.always` or `t.teardown`.
 *
 * @throws NatsServerNotFoundError if there is no nats-server binary.
 * @throws NatsServerStartError with the failing server's log tail.
 *
 * @example
 * ```ts
 * const cluster = await startNatsCluster({ dir: ".berth/dev-nats" });
 * test.after.always(() => cluster.stop());
 * const nc = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1 });
 * await jetstreamManager(nc).then((jsm) => jsm.streams.add({ name: "S", subjects: ["s.>"], num_replicas: 3 }));
 * cluster.servers[0]!.kill("SIGKILL"); // fault injection
 * await cluster.servers[0]!.restart();
 * ```
 */
export async function startNatsCluster(options: StartNatsClusterOptions): Promise<NatsCluster> {
  const size = options.size ?? 3;
  // One server alone never elects a JetStream meta leader ("Waiting for routing to be established").
  if (!Number.isInteger(size) || size < 2 || size > 32) {
    throw new ConfigError(`cluster size must be an integer from 2 to 32, got ${size}; for one server use startNatsServer`);
  }
  const clusterName = checkName("cluster name", options.clusterName ?? "berth");
  const timeoutMs = readyTimeout(options.readyTimeoutMs);
  const bin = findNatsServer();
  const members = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(3 * size);
    const routePorts = members.map((_, i) => ports[3 * i + 2] as number);
    const servers = members.map(
      (name, i) =>
        new NatsServer(
          serverSpec({
            bin,
            dir: options.dir,
            name,
            jetstream: true,
            port: ports[3 * i] as number,
            httpPort: ports[3 * i + 1] as number,
            cluster: { name: clusterName, port: routePorts[i] as number, routePorts, members },
          }),
          timeoutMs,
        ),
    );
    for (const server of servers) server.setPeers(servers);
    const deadline = Date.now() + timeoutMs;
    try {
      for (const server of servers) server.launch();
      // Fail fast on the first server that exits (e.g. a port taken); stopping the others below
      // ends their wait loops at once.
      await Promise.all(servers.map((s) => s.waitReady(deadline)));
      await waitForAgreedLeader(servers, deadline, timeoutMs);
    } catch (e) {
      await Promise.allSettled(servers.map((s) => s.stop()));
      if (e instanceof NatsServerStartError && e.reason === "port-in-use" && attempt < PORT_ATTEMPTS) continue;
      throw e;
    }
    return {
      servers,
      urls: servers.map((s) => s.url),
      stop: async () => {
        const results = await Promise.allSettled(servers.map((s) => s.stop()));
        const failed = results.find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
      },
    };
  }
}
