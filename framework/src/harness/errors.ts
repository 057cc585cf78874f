import { BerthError } from "../errors.js";

/** No `nats-server` binary was found (or `NATS_SERVER_BIN` points at nothing runnable). */
export class NatsServerNotFoundError extends BerthError {
  static readonly code = "nats-server-not-found";
  constructor(
    /** The places that were looked at. */
    readonly searched: readonly string[],
    /** The value of `NATS_SERVER_BIN`, if it was set. */
    readonly envValue?: string,
  ) {
    super(
      NatsServerNotFoundError.code,
      (envValue !== undefined
        ? `NATS_SERVER_BIN is set to "${envValue}", which is not an executable file`
        : `nats-server was not found on PATH (searched ${searched.join(", ") || "nothing"})`) +
        `; install it with \`apt-get install -y nats-server\` (Debian/Ubuntu; or see ` +
        `https://docs.nats.io/running-a-nats-service/introduction/installation), or set ` +
        `NATS_SERVER_BIN to the path of a nats-server binary`,
    );
    this.name = "NatsServerNotFoundError";
  }
}

/** Why a server did not become ready. */
export type NatsServerStartFailure = "exited" | "port-in-use" | "timeout";

/** A `nats-server` exited during startup or did not become ready in time. */
export class NatsServerStartError extends BerthError {
  static readonly code = "nats-server-start";
  constructor(
    readonly serverName: string,
    readonly reason: NatsServerStartFailure,
    detail: string,
    readonly logFile: string,
    /** The last lines the server wrote during this start attempt. */
    readonly logTail: string,
  ) {
    super(
      NatsServerStartError.code,
      `nats-server "${serverName}" ${detail}; its log is ${logFile}` +
        (logTail ? `, ending with:\n${logTail}` : " (empty)"),
    );
    this.name = "NatsServerStartError";
  }
}

/** A `nats-server` did not exit even after SIGKILL. */
export class NatsServerStopError extends BerthError {
  static readonly code = "nats-server-stop";
  constructor(readonly serverName: string, readonly pid: number) {
    super(
      NatsServerStopError.code,
      `nats-server "${serverName}" (pid ${pid}) did not exit after SIGTERM and SIGKILL; ` +
        `look at it with \`ps -o pid,stat,cmd -p ${pid}\` (state D means it is stuck in the kernel)`,
    );
    this.name = "NatsServerStopError";
  }
}
