import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { SessionSecretError } from "./errors.js";

/** How the session cookie is written. */
export interface SessionCookieOptions {
  /**
   * Secrets for the HMAC, newest first: cookies are signed with the first and accepted if
   * any verifies (rotation). Each at least 32 characters; the same on every node.
   */
  secrets: readonly string[];
  /** Default `"berth.sid"`. */
  name?: string;
  /** Send only over HTTPS. Default false; turn it on behind TLS (`--cookie-secure`). */
  secure?: boolean;
  /** Default `"Lax"`: sent on top-level navigations from other sites, not on their sub-requests. */
  sameSite?: "Strict" | "Lax" | "None";
  /** Default `"/"`. */
  path?: string;
  /** Lifetime in seconds; default none (a browser-session cookie). */
  maxAgeSeconds?: number;
}

/** Signs, verifies and formats session cookies. Create one with `sessionCookies`. */
export interface SessionCookies {
  readonly name: string;
  /** A new unguessable session id: 128 random bits, base64url (22 characters). */
  newId(): string;
  /** The cookie value for `id`: `<id>.<HMAC-SHA256 of id, base64url>`. */
  sign(id: string): string;
  /** The session id in a cookie value, or null if it is malformed or its signature does not verify. */
  verify(value: string): string | null;
  /** The session id of a request's `Cookie` header (the first of our cookies that verifies), or null. */
  fromHeader(cookieHeader: string | undefined): string | null;
  /** A `Cookie` header with our cookie replaced by `value` (other cookies kept). */
  replaceIn(cookieHeader: string | undefined, value: string): string;
  /** The `Set-Cookie` header value for a signed cookie value. */
  setCookie(value: string): string;
}

const ID_BYTES = 16;
const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const SIG_LENGTH = 43; // 32 bytes of HMAC-SHA256 in unpadded base64url
const NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
/** How many verified cookie values each node remembers (~100 bytes each). */
const VERIFIED_CACHE_SIZE = 10_000;
/** Domain separation: the key signs session ids and nothing else. */
const KEY_LABEL = "berth session cookie v1";

/**
 * Session cookies: ids are 128 random bits, signed with HMAC-SHA256 and compared in constant
 * time. A cookie that is missing, malformed or signed with another secret yields `null` —
 * the HTTP binding then starts a new session, so a forged cookie never reaches anyone's state.
 *
 * @example
 * ```ts
 * const cookies = sessionCookies({ secrets: [process.env.BERTH_SECRET!] });
 * const value = cookies.sign(cookies.newId());
 * cookies.verify(value);         // the id
 * cookies.verify(value + "x");   // null
 * ```
 */
export function sessionCookies(options: SessionCookieOptions): SessionCookies {
  const name = options.name ?? "berth.sid";
  if (!NAME_RE.test(name)) throw new SessionSecretError(`cookie name ${JSON.stringify(name)} is not a valid cookie name`);
  if (options.secrets.length === 0) throw new SessionSecretError("no session secret");
  for (const s of options.secrets) {
    if (s.length < 32) throw new SessionSecretError(`a session secret of ${s.length} characters is too short`);
  }
  if (options.sameSite === "None" && options.secure !== true) {
    throw new SessionSecretError("SameSite=None cookies must be Secure (browsers drop them otherwise); turn on secure cookies behind HTTPS or use SameSite=Lax");
  }
  const keys = options.secrets.map((s) => createHmac("sha256", s).update(KEY_LABEL).digest());
  const signWith = (key: Buffer, id: string): string => createHmac("sha256", key).update(id).digest("base64url");
  const attributes = [
    `Path=${options.path ?? "/"}`,
    "HttpOnly",
    `SameSite=${options.sameSite ?? "Lax"}`,
    ...(options.secure === true ? ["Secure"] : []),
    ...(options.maxAgeSeconds !== undefined ? [`Max-Age=${Math.floor(options.maxAgeSeconds)}`] : []),
  ].join("; ");
  const prefix = `${name}=`;

  // Cookie values that verified, so a session's every request costs one HMAC per node, not one
  // per request (a gateway and a worker each check every forwarded request). Only values that
  // passed the full check under this instance's keys, which never change, go in; bounded.
  const verified = new Map<string, string>();

  const verify = (value: string): string | null => {
    const known = verified.get(value);
    if (known !== undefined) return known;
    const id = check(value);
    if (id !== null) {
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
      verified.set(value, id);
    }
    return id;
  };

  const check = (value: string): string | null => {
    const dot = value.indexOf(".");
    if (dot !== 22 || value.length !== 23 + SIG_LENGTH) return null;
    const id = value.slice(0, dot);
    if (!ID_RE.test(id)) return null;
    const given = Buffer.from(value.slice(dot + 1), "latin1");
    for (const key of keys) {
      // Compare the encoded strings (equal length by construction): constant time, and strict
      // (a base64 decoder would accept several spellings of one signature).
      if (timingSafeEqual(given, Buffer.from(signWith(key, id), "latin1"))) return id;
    }
    return null;
  };

  return {
    name,
    newId: () => randomBytes(ID_BYTES).toString("base64url"),
    sign: (id) => {
      if (!ID_RE.test(id)) throw new TypeError(`not a session id: ${JSON.stringify(id)}`);
      return `${id}.${signWith(keys[0] as Buffer, id)}`;
    },
    verify,
    fromHeader(header) {
      if (header === undefined || !header.includes(prefix)) return null;
      for (const part of header.split(";")) {
        const p = part.trim();
        if (p.startsWith(prefix)) {
          const id = verify(p.slice(prefix.length));
          if (id !== null) return id;
        }
      }
      return null;
    },
    replaceIn(header, value) {
      const others = (header ?? "")
        .split(";")
        .map((p) => p.trim())
        .filter((p) => p !== "" && !p.startsWith(prefix));
      return [`${prefix}${value}`, ...others].join("; ");
    },
    setCookie: (value) => `${prefix}${value}; ${attributes}`,
  };
}

/**
 * The session secrets from `BERTH_SECRET` (comma-separated, newest first), or null if unset.
 * @example secretsFromEnv({ BERTH_SECRET: "new…,old…" }) // ["new…", "old…"]
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | null {
  const raw = env.BERTH_SECRET;
  if (raw === undefined || raw.trim() === "") return null;
  return raw.split(",").map((s) => s.trim()).filter(Boolean);
}
