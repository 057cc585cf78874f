/**
 * Types of the NATS harness: handles on real `nats-server` processes started for
 * `berth dev`, the integration tests and the benchmarks.
 */

/** A running (or stopped, or killed) `nats-server` process started by the harness. */
export interface NatsServerHandle {
  /** `server_name` in the config; also the name of its directory under `dir`. */
  readonly name: string;
  /** Current process id; changes on {@link NatsServerHandle.restart}. */
  readonly pid: number;
  /** Client port on 127.0.0.1. */
  readonly port: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** HTTP monitoring port on 127.0.0.1 (`/healthz`, `/varz`, `/jsz`, `/routez`). */
  readonly httpPort: number;
  /** Cluster (route) port, or `undefined` for a standalone server. */
  readonly clusterPort: number | undefined;
  /** JetStream `store_dir` (`<dir>/<name>/js`). */
  readonly storeDir: string;
  /** The generated config (`<dir>/<name>/server.conf`). */
  readonly configFile: string;
  /** The server's stdout and stderr (`<dir>/<name>/server.log`), appended across restarts. */
  readonly logFile: string;
  /** Whether the process exists and has not exited (a SIGSTOPped server is still running). */
  readonly running: boolean;
  /** Sends a signal (default SIGKILL) to the process by PID (and its process group), for fault tests: SIGKILL, SIGSTOP, SIGCONT. No-op if it is not running. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGCONT then SIGTERM, waits for the exit, SIGKILL after ~5 s. Works on stopped and dead servers. */
  stop(): Promise<void>;
  /** Starts the process again with the same config, ports and store dir, and waits until it is ready. */
  restart(): Promise<void>;
}

/** A JetStream cluster of `nats-server` processes on loopback. */
export interface NatsCluster {
  readonly servers: readonly NatsServerHandle[];
  /** Client URLs of all servers, for `connect({ servers: cluster.urls })`. */
  readonly urls: readonly string[];
  /** Stops every server (in parallel). */
  stop(): Promise<void>;
}

/** Options of `startNatsServer`. */
export interface StartNatsServerOptions {
  /** Base directory; the server lives in `<dir>/<name>/`. Created if missing. */
  dir: string;
  /** Server name and directory name (letters, digits, `.`, `_`, `-`). Default `"nats"`. */
  name?: string;
  /** Enable JetStream. Default `true`. */
  jetstream?: boolean;
  /** How long to wait for the server to be ready. Default 15 000 ms. */
  readyTimeoutMs?: number;
  /** Clients must authenticate (to test auth): a user and password, or a token. Default: no auth. */
  authorization?: ServerAuthorization;
  /** TLS on the client port (to test TLS). Default: plain TCP. */
  tls?: ServerTls;
}

/** The `authorization` block of a server config. */
export type ServerAuthorization = { readonly user: string; readonly password: string } | { readonly token: string };

/** The `tls` block of a server config: its certificate, and with `verify` the CA that signs client certificates. */
export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA that client certificates must be signed by (with `verify`). */
  readonly caFile?: string;
  /** Require a client certificate. Default false. */
  readonly verify?: boolean;
}

/** Options of `startNatsCluster`. */
export interface StartNatsClusterOptions {
  /** Base directory; server `n<i>` lives in `<dir>/n<i>/`. Created if missing. */
  dir: string;
  /** Number of servers, 2 to 32. Default 3 (the minimum for R3 streams). */
  size?: number;
  /** The cluster `name`. Default `"berth"`. */
  clusterName?: string;
  /** How long to wait for the whole cluster to be ready. Default 15 000 ms. */
  readyTimeoutMs?: number;
}

/** Everything needed to write a server's config and run it (internal). */
export interface NatsServerSpec {
  readonly bin: string;
  readonly name: string;
  readonly serverDir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly storeDir: string;
  readonly jetstream: boolean;
  readonly port: number;
  readonly httpPort: number;
  readonly authorization?: ServerAuthorization;
  readonly tls?: ServerTls;
  /** Present for cluster members. */
  readonly cluster?: {
    readonly name: string;
    readonly port: number;
    /** Route ports of all members, this one included. */
    readonly routePorts: readonly number[];
    /** Server names of all members, this one included. */
    readonly members: readonly string[];
  };
}
