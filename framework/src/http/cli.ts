import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Role } from "../membership/types.js";
import type { Logger } from "../node/logger.js";
import { ConfigError } from "../errors.js";
import type { HttpServeOptions } from "./createHttpNode.js";
import { isHttpDefinition } from "./defineHttp.js";
import { HttpAppError, SessionSecretError } from "./errors.js";
import { secretsFromEnv } from "./sessionCookie.js";

/** The HTTP flags of `berth node`. */
export interface HttpCliOptions {
  http?: string;
  httpAdvertise?: string;
  cookieSecure?: boolean;
}

/**
 * Turns `berth node`'s HTTP flags into `createHttpNode`'s `http` options, or null when the
 * node serves no HTTP. Workers run the routes the app module exports as `http`; gateways
 * forward them, and serve its live update streams themselves. The secret comes from `BERTH_SECRET` (`berth dev` sets a generated one).
 */
export async function httpOptions(flags: HttpCliOptions, appFile: string, role: Role, log: Logger): Promise<HttpServeOptions | null> {
  if (flags.http === undefined) return null;
  const { host, port } = parseAddress(flags.http);
  const secrets = secretsFromEnv();
  if (secrets === null) throw new SessionSecretError("BERTH_SECRET is not set, and a node serving HTTP needs it to sign session cookies");
  const secure = flags.cookieSecure === true || process.env.BERTH_COOKIE_SECURE === "1";
  if (!secure) log.debug("session cookies are not marked Secure; use --cookie-secure behind HTTPS");
  const base: HttpServeOptions = { host, port, secrets, cookie: { secure }, ...(flags.httpAdvertise ? { advertise: flags.httpAdvertise } : {}) };
  const app = await httpExport(appFile);
  // A gateway runs no routes, but serves the app's live update streams (they need no owner).
  if (role !== "worker") return isHttpDefinition(app) ? { ...base, app } : base;
  if (app === undefined) throw new HttpAppError(`${appFile} exports no \`http\` routes, so this worker has nothing to serve on --http`);
  if (!isHttpDefinition(app)) throw new HttpAppError(`${appFile} exports \`http\`, but not as defineHttp(...) returns it`);
  return { ...base, app };
}

/**
 * `3000`, `127.0.0.1:3000`, `0.0.0.0:3000`, `[::1]:3000`.
 * @param flag the option named in the error, default `--http`
 */
export function parseAddress(value: string, flag = "--http"): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[^:]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${flag} must be [host:]port, e.g. 3000 or 0.0.0.0:3000; got ${JSON.stringify(value)}`);
  return { host: (m[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

/** Whether an app module (already loaded by `loadApp`) exports HTTP routes. */
export async function appServesHttp(appFile: string): Promise<boolean> {
  return isHttpDefinition(await httpExport(appFile));
}

/** The app module's `http` export (the module is already loaded: this is a cache hit). */
async function httpExport(appFile: string): Promise<unknown> {
  const mod = (await import(pathToFileURL(appFile).href)) as { http?: unknown; default?: { http?: unknown } };
  return mod.http ?? mod.default?.http;
}

/**
 * The secret `berth dev` gives its nodes when `BERTH_SECRET` is unset: generated once per
 * dev folder and kept there (mode 0600), so cookies survive a restart of the dev cluster.
 * Never for production — `berth node` refuses to serve HTTP without `BERTH_SECRET`.
 */
export function devSecret(dir: string): string {
  const file = resolve(dir, "secret");
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (kept.length >= 32) return kept;
  }
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
