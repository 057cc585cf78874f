import { connect, type NatsConnection, type ConnectionOptions } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ConfigError } from "../../errors.js";
import { credentialsFromUrls } from "./urlCredentials.js";

/**
 * How a node reaches NATS. Auth and TLS options are passed through to the client.
 * @example
 * ```ts
 * const nats: NatsOptions = { servers: ["tls://n1:4222", "tls://n2:4222"], user: "berth", pass: process.env.NATS_PASSWORD, tls: { caFile: "/etc/berth/nats-ca.pem" } };
 * ```
 */
export interface NatsOptions {
  /**
   * Server URLs, e.g. `["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]`. A URL may carry
   * credentials, `nats://user:pass@host:4222` or `nats://token@host:4222`, instead of
   * `user`/`pass`/`token`.
   */
  servers: string | readonly string[];
  /** Connection name shown by the server (`/connz`); Berth sets it to the node id. */
  name?: string;
  /** User name, with `pass`, for servers with `authorization { user, password }` (or `users`). */
  user?: string | undefined;
  pass?: string | undefined;
  /** Token, for servers with `authorization { token }`. */
  token?: string | undefined;
  /** TLS: `true` for the system CAs, or file paths for a private CA and client certificates. */
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string };
}

/** How `connectNats` treats servers that do not answer yet. */
export interface ConnectWaiting {
  /**
   * Keep trying, every second, until a server answers (a node may start before NATS), logging
   * why the attempts fail. Without it, the connection fails after one pass over the servers.
   * Either way, refused credentials and TLS errors fail at once: retrying cannot fix them.
   */
  readonly waitForServers?: { readonly log: Logger };
}

/**
 * Connects with the settings a server process needs: `noAsyncTraces` (no Error object per
 * request; 1.45× request throughput measured here), unlimited reconnects once connected (the
 * default gives up after ~20 s and then drops publishes silently), and a name per node.
 *
 * @throws ConfigError saying what to fix when no server can be reached, the credentials are
 *   refused or TLS fails
 * @example
 * ```ts
 * const nc = await connectNats({ servers: "nats://127.0.0.1:4222", name: "node-a" });
 * ```
 */
export async function connectNats(options: NatsOptions, waiting: ConnectWaiting = {}): Promise<NatsConnection> {
  const urls = typeof options.servers === "string" ? options.servers.split(",").map((s) => s.trim()).filter(Boolean) : [...options.servers];
  if (urls.length === 0) throw new ConfigError("NATS needs at least one server URL, e.g. nats://127.0.0.1:4222 (--nats or NATS_URL)");
  const fromUrls = credentialsFromUrls(urls);
  const servers = fromUrls.servers;
  const explicit = options.user !== undefined || options.pass !== undefined || options.token !== undefined;
  if (explicit && (fromUrls.user !== undefined || fromUrls.token !== undefined)) {
    throw new ConfigError("NATS credentials are given twice, in the URL (user:pass@ or token@) and as user/pass/token (NATS_USER, NATS_PASSWORD, NATS_TOKEN); keep one");
  }
  const opts: ConnectionOptions = {
    servers,
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 10_000,
    // The first connection is retried here, not by the client: the client would retry a TLS
    // error or an unreachable server forever, silently.
    waitOnFirstConnect: false,
    timeout: 5_000,
  };
  if (options.name !== undefined) opts.name = options.name;
  const user = options.user ?? fromUrls.user;
  const pass = options.pass ?? fromUrls.pass;
  const token = options.token ?? fromUrls.token;
  if (user !== undefined) opts.user = user;
  if (pass !== undefined) opts.pass = pass;
  if (token !== undefined) opts.token = token;
  if (options.tls === true) opts.tls = {};
  else if (typeof options.tls === "object") opts.tls = { ...options.tls };
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(opts);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      const hint = connectHint(why, opts);
      const wait = waiting.waitForServers;
      if (wait === undefined || hint.fatal) throw new ConfigError(`could not connect to NATS at ${servers.join(", ")}: ${why} — ${hint.text}`);
      if (attempt === 1 || attempt % 10 === 0) wait.log.warn({ servers, attempt, reason: why }, "cannot reach NATS yet; retrying every second");
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** What to do about a failed connection, from the client's error message, and whether retrying could help. */
function connectHint(why: string, opts: ConnectionOptions): { text: string; fatal: boolean } {
  if (/authori[sz]ation|authentication/i.test(why)) {
    return {
      fatal: true,
      text: opts.user !== undefined || opts.token !== undefined
        ? "the server refused these credentials: check NATS_USER/NATS_PASSWORD or NATS_TOKEN (user/pass/token in NatsOptions)"
        : "the server requires credentials: set NATS_USER and NATS_PASSWORD, or NATS_TOKEN (user/pass/token in NatsOptions), or put them in the URL (nats://user:pass@host:4222)",
    };
  }
  if (/doesn't exist|no such file/i.test(why)) return { fatal: true, text: "a TLS file given in tls (caFile, certFile, keyFile) does not exist: check the path" };
  if (/certificate|self[- ]signed|altnames|verify|ssl|tls/i.test(why)) {
    return { fatal: true, text: "TLS failed: give the CA that signed the servers' certificates (--nats-tls-ca or NATS_CA; tls.caFile in NatsOptions), check that the certificates name the hosts in the URLs, and give a client certificate if the servers verify clients (--nats-tls-cert/--nats-tls-key)" };
  }
  if (opts.tls !== undefined && /timeout/i.test(why)) {
    return { fatal: false, text: "no answer over TLS: if the servers verify client certificates, give one (--nats-tls-cert and --nats-tls-key, or NATS_CERT and NATS_KEY)" };
  }
  return { fatal: false, text: "is nats-server running there? (berth dev starts one for you)" };
}
