import { existsSync } from "node:fs";
import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import type { NatsOptions } from "../transport/nats/connectNats.js";

/** The NATS auth and TLS flags of `berth node` and `berth status`. */
export interface NatsAuthFlags {
  natsUser?: string;
  natsTls?: boolean;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

/** Credentials and TLS settings for `connectNats`. */
export type NatsAuth = Pick<NatsOptions, "user" | "pass" | "token" | "tls">;

/** Adds the NATS auth and TLS flags to a command. Secrets have no flag: they come from the environment, so they never show in `ps`. */
export function addNatsAuthOptions(command: Command): Command {
  return command
    .option("--nats-user <user>", "NATS user, with the password in $NATS_PASSWORD (default: $NATS_USER; a token goes in $NATS_TOKEN)")
    .option("--nats-tls", "connect to NATS over TLS, checking the servers against the system's CAs")
    .option("--nats-tls-ca <file>", "CA certificate (PEM) that signed the NATS servers' certificates (default: $NATS_CA)")
    .option("--nats-tls-cert <file>", "client certificate (PEM), for NATS servers that verify clients (default: $NATS_CERT)")
    .option("--nats-tls-key <file>", "the client certificate's private key (PEM) (default: $NATS_KEY)");
}

/**
 * The credentials and TLS settings of the NATS connection, from the flags and the
 * environment: `NATS_USER` + `NATS_PASSWORD`, or `NATS_TOKEN`; `NATS_CA`, `NATS_CERT`,
 * `NATS_KEY` (the names the `nats` CLI uses). Credentials in a URL (`nats://user:pass@host`)
 * are handled by `connectNats`.
 * @example
 * ```ts
 * natsAuthFrom({ natsTlsCa: "ca.pem" }, { NATS_USER: "berth", NATS_PASSWORD: "s3cret" });
 * // { user: "berth", pass: "s3cret", tls: { caFile: "ca.pem" } }
 * ```
 */
export function natsAuthFrom(flags: NatsAuthFlags, env: NodeJS.ProcessEnv = process.env): NatsAuth {
  const user = set(flags.natsUser) ?? set(env.NATS_USER);
  const pass = set(env.NATS_PASSWORD);
  const token = set(env.NATS_TOKEN);
  if (pass !== undefined && user === undefined) throw new ConfigError("NATS_PASSWORD is set but no NATS user: set NATS_USER (or --nats-user) too");
  if (user !== undefined && pass === undefined) throw new ConfigError(`NATS user "${user}" has no password: set NATS_PASSWORD (an environment variable, so it never shows in ps)`);
  if (user !== undefined && token !== undefined) throw new ConfigError("both a NATS user (NATS_USER) and a token (NATS_TOKEN) are set; a server takes one or the other: unset one");
  const caFile = file("--nats-tls-ca", "NATS_CA", set(flags.natsTlsCa) ?? set(env.NATS_CA));
  const certFile = file("--nats-tls-cert", "NATS_CERT", set(flags.natsTlsCert) ?? set(env.NATS_CERT));
  const keyFile = file("--nats-tls-key", "NATS_KEY", set(flags.natsTlsKey) ?? set(env.NATS_KEY));
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError("a NATS client certificate needs both --nats-tls-cert and --nats-tls-key (NATS_CERT and NATS_KEY)");
  const files = { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) };
  const tls: NatsAuth["tls"] = Object.keys(files).length > 0 ? files : flags.natsTls === true ? true : undefined;
  return { ...(user !== undefined ? { user, pass } : {}), ...(token !== undefined ? { token } : {}), ...(tls !== undefined ? { tls } : {}) };
}

function set(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function file(flag: string, envName: string, path: string | undefined): string | undefined {
  if (path !== undefined && !existsSync(path)) throw new ConfigError(`${flag} (or ${envName}): no such file ${path}`);
  return path;
}
