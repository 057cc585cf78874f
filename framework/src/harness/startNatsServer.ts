import { PORT_ATTEMPTS, readyTimeout } from "./defaults.js";
import { NatsServerStartError } from "./errors.js";
import { findNatsServer } from "./findNatsServer.js";
import { freePorts } from "./freePorts.js";
import { NatsServer } from "./NatsServer.js";
import { serverSpec } from "./serverSpec.js";
import type { NatsServerHandle, StartNatsServerOptions } from "./types.js";

/**
 * Starts a standalone `nats-server` (JetStream on by default) on free loopback ports, in
 * `<dir>/<name>/` (config, log, pid file, JetStream store), detached from this process, and
 * waits until `/healthz` is ok (and `/jsz` shows JetStream). If a port was taken in the
 * meantime, it retries with new ports. The store survives `stop()`, so starting again with the
 * same `dir` and `name` keeps the streams.
 *
 * The server is killed if this process exits or gets SIGINT/SIGTERM, but tests should still
 * call `stop()`, in `test.after.always` or `t.teardown`, so it does not outlive a failed test
 * (and so a hard-killed test run can be cleaned with `reapStaleServers(dir)`).
 *
 * @throws NatsServerNotFoundError if there is no nats-server binary.
 * @throws NatsServerStartError with the log tail if it exits during startup or is not ready in time.
 *
 * @example
 * ```ts
 * import test from "ava";
 * import { connect } from "@nats-io/transport-node";
 * const server = await startNatsServer({ dir: ".berth/test-nats" });
 * test.after.always(() => server.stop());
 * test("talks", async (t) => {
 *   const nc = await connect({ servers: server.url });
 *   t.teardown(() => nc.close());
 * });
 * ```
 */
export async function startNatsServer(options: StartNatsServerOptions): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  const timeoutMs = readyTimeout(options.readyTimeoutMs);
  const name = options.name ?? "nats";
  const jetstream = options.jetstream ?? true;
  for (let attempt = 1; ; attempt++) {
    const [port, httpPort] = (await freePorts(2)) as [number, number];
    const spec = serverSpec({ bin, dir: options.dir, name, jetstream, port, httpPort, ...(options.authorization ? { authorization: options.authorization } : {}), ...(options.tls ? { tls: options.tls } : {}) });
    const server = new NatsServer(spec, timeoutMs);
    try {
      await server.start(Date.now() + timeoutMs);
      return server;
    } catch (e) {
      if (e instanceof NatsServerStartError && e.reason === "port-in-use" && attempt < PORT_ATTEMPTS) continue;
      throw e;
    }
  }
}
