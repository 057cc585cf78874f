import { join, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import type { NatsServerSpec } from "./types.js";

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Checks that `value` can be a server name, cluster name and directory name. */
export function checkName(what: string, value: string): string {
  if (!SAFE_NAME.test(value)) {
    throw new ConfigError(
      `${what} "${value}" is not allowed; use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return value;
}

/** The on-disk layout of server `name` under `dir`: `<dir>/<name>/{server.conf,server.log,server.pid,js/}`. */
export function serverSpec(input: {
  bin: string;
  dir: string;
  name: string;
  jetstream: boolean;
  port: number;
  httpPort: number;
  cluster?: NatsServerSpec["cluster"];
  authorization?: NatsServerSpec["authorization"];
  tls?: NatsServerSpec["tls"];
}): NatsServerSpec {
  const serverDir = join(resolve(input.dir), checkName("server name", input.name));
  return {
    bin: input.bin,
    name: input.name,
    serverDir,
    configFile: join(serverDir, "server.conf"),
    logFile: join(serverDir, "server.log"),
    pidFile: join(serverDir, "server.pid"),
    storeDir: join(serverDir, "js"),
    jetstream: input.jetstream,
    port: input.port,
    httpPort: input.httpPort,
    ...(input.cluster ? { cluster: input.cluster } : {}),
    ...(input.authorization ? { authorization: input.authorization } : {}),
    ...(input.tls ? { tls: input.tls } : {}),
  };
}
