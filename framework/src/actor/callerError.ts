import { ActorHandlerError, BerthError } from "../errors.js";

/**
 * What the caller receives for a failed turn or query. Berth's own errors (unserializable
 * state, an unknown timer handler, a nested call's deadline) pass through as they are — they
 * name the fix; anything the handler threw becomes an `ActorHandlerError` carrying its message.
 */
export function callerError(actorType: string, actorId: string, handler: string, error: unknown): Error {
  if (error instanceof BerthError) return error;
  const e = error instanceof Error ? error : new Error(String(error));
  return new ActorHandlerError(actorType, actorId, handler, e.message, e.name, { cause: error });
}
