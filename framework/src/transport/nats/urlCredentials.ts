import { ConfigError } from "../../errors.js";

/** Server URLs with any credentials they carried taken out. */
export interface UrlCredentials {
  readonly servers: string[];
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

/**
 * Takes credentials out of server URLs, as the NATS CLI and the Go client accept them:
 * `nats://user:pass@host:4222` (user and password) and `nats://token@host:4222` (a token).
 * The Node client ignores them in a URL (the server then refuses the connection), so Berth
 * passes them as options. Every URL that carries credentials must carry the same ones.
 *
 * @example
 * ```ts
 * credentialsFromUrls(["nats://app:s3cret@10.0.0.1:4222"]); // { servers: ["nats://10.0.0.1:4222"], user: "app", pass: "s3cret" }
 * ```
 */
export function credentialsFromUrls(urls: readonly string[]): UrlCredentials {
  const servers: string[] = [];
  let found: { user?: string; pass?: string; token?: string; raw: string } | null = null;
  for (const url of urls) {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?([^@/]*)@(.+)$/.exec(url);
    if (m === null) {
      servers.push(url);
      continue;
    }
    const [, scheme = "", userinfo = "", rest = ""] = m;
    servers.push(`${scheme}${rest}`);
    const colon = userinfo.indexOf(":");
    const creds = colon < 0 ? { token: decode(userinfo), raw: userinfo } : { user: decode(userinfo.slice(0, colon)), pass: decode(userinfo.slice(colon + 1)), raw: userinfo };
    if (found !== null && found.raw !== creds.raw) throw new ConfigError("the NATS URLs carry different credentials; give every URL the same user:password@ (or token@), or none and set NATS_USER/NATS_PASSWORD");
    found = creds;
  }
  if (found === null) return { servers };
  const { raw: _raw, ...creds } = found;
  return { servers, ...creds };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError("a NATS URL has credentials that are not valid URL encoding; percent-encode special characters (@ as %40, : as %3A)");
  }
}
