import { connect, type NatsConnection, type ConnectionOptions } from "@nats-io/transport-node";
import { ConfigError } from "../../errors.js";

/** How a node reaches NATS. Auth and TLS options are passed through to the client. */
export interface NatsOptions {
  /** Server URLs, e.g. `["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]`. */
  servers: string | readonly string[];
  /** Connection name shown by the server (`/connz`); Berth sets it to the node id. */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** TLS: `true` for the system CAs, or file paths for a private CA and client certificates. */
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string };
}

/**
 * Connects with the settings a server process needs: `noAsyncTraces` (no Error object per
 * request; 1.45× request throughput measured here), unlimited reconnects (the default gives up
 * after ~20 s and then drops publishes silently), and a name per node.
 *
 * @example
 * ```ts
 * const nc = await connectNats({ servers: "nats://127.0.0.1:4222", name: "node-a" });
 * ```
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const servers = typeof options.servers === "string" ? options.servers.split(",").map((s) => s.trim()).filter(Boolean) : [...options.servers];
  if (servers.length === 0) throw new ConfigError("NATS needs at least one server URL, e.g. nats://127.0.0.1:4222 (--nats or NATS_URL)");
  const opts: ConnectionOptions = {
    servers,
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 10_000,
    waitOnFirstConnect: true,
    timeout: 5_000,
  };
  if (options.name !== undefined) opts.name = options.name;
  if (options.user !== undefined) opts.user = options.user;
  if (options.pass !== undefined) opts.pass = options.pass;
  if (options.token !== undefined) opts.token = options.token;
  if (options.tls === true) opts.tls = {};
  else if (typeof options.tls === "object") opts.tls = { ...options.tls };
  try {
    return await connect(opts);
  } catch (cause) {
    throw new ConfigError(
      `could not connect to NATS at ${servers.join(", ")}: ${cause instanceof Error ? cause.message : String(cause)} — ` +
        `is nats-server running there? (berth dev starts one for you)`,
    );
  }
}
