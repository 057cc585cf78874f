import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { NatsServerNotFoundError } from "./errors.js";

/** Directories searched after PATH: Debian installs nats-server into /usr/sbin, which is often not on a user's PATH. */
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin"];

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the `nats-server` binary: `NATS_SERVER_BIN` if set (it must be an executable file),
 * else `nats-server` in a PATH directory, else in /usr/sbin and the other usual places.
 *
 * @throws NatsServerNotFoundError naming the install command (`apt-get install -y nats-server`).
 *
 * @example
 * ```ts
 * const bin = findNatsServer(); // "/usr/sbin/nats-server"
 * ```
 */
export function findNatsServer(): string {
  const fromEnv = process.env["NATS_SERVER_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") {
    const path = resolve(fromEnv);
    if (isExecutableFile(path)) return path;
    throw new NatsServerNotFoundError([path], fromEnv);
  }
  const { path, searched } = findProgram("nats-server");
  if (path !== undefined) return path;
  throw new NatsServerNotFoundError(searched);
}

/**
 * Finds an executable `program` in a PATH directory, else in /usr/sbin and the other usual
 * places (servers such as nats-server and redis-server install there on Debian).
 *
 * @example
 * ```ts
 * const { path, searched } = findProgram("redis-server"); // path undefined when not installed
 * ```
 */
export function findProgram(program: string): { readonly path: string | undefined; readonly searched: readonly string[] } {
  const dirs = (process.env["PATH"] ?? "").split(delimiter).filter((d) => d !== "");
  const searched: string[] = [];
  for (const dir of [...dirs, ...EXTRA_DIRS].map((d) => resolve(d))) {
    if (searched.includes(dir)) continue;
    searched.push(dir);
    const candidate = join(dir, program);
    if (isExecutableFile(candidate)) return { path: candidate, searched };
  }
  return { path: undefined, searched };
}
