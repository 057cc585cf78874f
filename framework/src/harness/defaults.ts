import { ConfigError } from "../errors.js";

/** Start attempts with fresh ports when a port was taken between probing and binding. */
export const PORT_ATTEMPTS = 5;
/** Default time to wait for a server or cluster to be ready. */
export const DEFAULT_READY_TIMEOUT_MS = 15_000;

/** Checks a `readyTimeoutMs` option and applies the default. */
export function readyTimeout(value: number | undefined): number {
  const ms = value ?? DEFAULT_READY_TIMEOUT_MS;
  if (!Number.isFinite(ms) || ms <= 0) throw new ConfigError(`readyTimeoutMs must be a positive number, got ${ms}`);
  return ms;
}
