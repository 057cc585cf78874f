import { ClosedConnectionError, DrainingConnectionError, InvalidArgumentError } from "@nats-io/transport-node";

/**
 * Whether an error from a JetStream request can clear up by itself: a leader election (the v3
 * client reports "no responders" as `JetStreamNotEnabled`, "jetstream is not enabled"), a
 * timeout, "JetStream system temporarily unavailable" (10008), a reconnect. A closed connection
 * or an argument the client refuses (e.g. a message above max_payload) will not.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ClosedConnectionError || error instanceof DrainingConnectionError || error instanceof InvalidArgumentError) return false;
  const m = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  if (/maximum payload|max_payload|message size exceeds|payload too large/i.test(m)) return false;
  return true;
}

/** Milliseconds to wait before attempt `attempt` (1-based) is repeated: 25, 50, 100, 200, 250… with ±20% jitter. */
export function retryDelay(attempt: number): number {
  const base = Math.min(250, 25 * 2 ** Math.min(attempt - 1, 4));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
