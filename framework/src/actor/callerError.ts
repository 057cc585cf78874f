import { ActorHandlerError, BerthError } from "../errors.js";

/**
 * What the caller receives for a failed turn or query. Berth's own errors (unserializable
 * state, an unknown timer handler, a nested call's deadline) pass through as they are — they
 * name the fix; anything the handler threw becomes an `ActorHandlerError` carrying its message.
 */
export function callerError(actorType: string, actorId: string, handler: string, error: unknown): Error {
  if (error instanceof BerthError) return error;
  if (error instanceof Error) return new ActorHandlerError(actorType, actorId, handler, error.message, error.name, { cause: error });
  // A thrown non-Error (a string, an object): its text is the message, its type the name.
  return new ActorHandlerError(actorType, actorId, handler, describe(error), `thrown ${error === null ? "null" : typeof error}`, { cause: error });
}

/** A thrown value's text: a string as it is, anything else as JSON when it has any (at most 500 characters). */
function describe(value: unknown): string {
  if (typeof value === "string") return value;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= String(value);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
