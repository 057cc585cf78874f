/**
 * Call ids and the window of call outcomes an actor keeps (exactly-once execution of retries).
 *
 * A call id is `<incarnation>.<n>.<made>`: the calling node's incarnation, a counter, and when
 * the id was made (ms, base 36, the caller's clock). An actor keeps the outcomes of its recent
 * calls — the last `MAX_RECENT_CALLS`, none older than the dedup window — so a retry with a
 * known id is answered from its outcome instead of running again. Beyond that the actor keeps
 * one number: the latest `made` among the outcomes it dropped. A call whose outcome is not kept
 * and whose id was made no later than that may have run and been forgotten: it is refused with
 * `CallOutcomeUnknownError`, not run a second time. Both sides of the comparison are times of
 * the callers' clocks, and a dropped call compares with its own retry exactly, whatever the
 * clocks; a first attempt is refused only if 64 calls made after it ran before it.
 */

/** Outcomes an actor keeps (its owner, its backups, its records). */
export const MAX_RECENT_CALLS = 64;

/** `forgotten` advanced past the outcomes of `dropped` (the latest time one of their ids was made). */
export function forgetCalls(forgotten: number | undefined, dropped: ReadonlyArray<{ readonly id: string }>): number | undefined {
  let out = forgotten;
  for (const c of dropped) {
    const made = callIdTime(c.id);
    if (made !== undefined && (out === undefined || made > out)) out = made;
  }
  return out;
}

/**
 * Appends an outcome to a window of outcomes, drops the oldest beyond `MAX_RECENT_CALLS`, and
 * returns `forgotten` advanced past them. For the copies that keep no clock (backups, log
 * replay); the owner also drops by age (Activation.pruneCalls).
 */
export function keepOutcome(calls: Array<{ readonly id: string }>, outcome: { readonly id: string }, forgotten: number | undefined): number | undefined {
  calls.push(outcome);
  return calls.length > MAX_RECENT_CALLS ? forgetCalls(forgotten, calls.splice(0, calls.length - MAX_RECENT_CALLS)) : forgotten;
}

/** Whether a call id, not among the outcomes kept, is old enough that its outcome may have been forgotten. */
export function mayHaveForgotten(callId: string, forgotten: number | undefined): boolean {
  if (forgotten === undefined) return false;
  const made = callIdTime(callId);
  return made !== undefined && made <= forgotten;
}

/** A new call id. */
export function makeCallId(incarnation: string, n: number, now: number): string {
  return `${incarnation}.${n.toString(36)}.${now.toString(36)}`;
}

/** When a call id was made (ms), or undefined for an id of another form. */
export function callIdTime(id: string): number | undefined {
  const dot = id.lastIndexOf(".");
  if (dot < 0 || id.length - dot > 12) return undefined;
  const t = Number.parseInt(id.slice(dot + 1), 36);
  return Number.isSafeInteger(t) && t > 0 ? t : undefined;
}
