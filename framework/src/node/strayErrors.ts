import type { Logger } from "pino";
import { limitedLog } from "./logger.js";

/**
 * Keeps a node's process running when an error escapes a turn: a promise a handler started and
 * nobody awaited that rejects, or a throw inside a callback it scheduled (`setTimeout`,
 * `setImmediate`, an event listener). Node's default ends the process for both, and then the
 * call that caused it is retried on the actor's next owner, which ends too: one bad handler
 * takes down every worker in turn. Each such error is logged (at most 10 a minute) with its
 * stack; the turn that started it has ended already, so no state is involved.
 *
 * `berth node` installs this. A process that embeds a node with `createNode` may call it too.
 * Returns the function that removes the handlers.
 * @example
 * ```ts
 * import { createNode, keepRunningOnStrayErrors } from "berth";
 * const node = await createNode({ actors, nats: { servers: ["nats://127.0.0.1:4222"] } });
 * keepRunningOnStrayErrors(node.log);
 * ```
 */
export function keepRunningOnStrayErrors(log: Logger): () => void {
  const logged = limitedLog(log, "error", "an error escaped an actor's turn (a promise nobody awaited, or a throw in a callback it scheduled); the node keeps running — fix the handler");
  const onRejection = (reason: unknown): void => {
    strayErrors++;
    logged({ err: reason instanceof Error ? reason : new Error(String(reason)), kind: "unhandledRejection" });
  };
  const onException = (err: Error): void => {
    strayErrors++;
    logged({ err, kind: "uncaughtException" });
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}

let strayErrors = 0;

/** How many errors `keepRunningOnStrayErrors` caught in this process (the `berth_stray_errors_total` metric). */
export function strayErrorCount(): number {
  return strayErrors;
}
