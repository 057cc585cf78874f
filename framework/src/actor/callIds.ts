/**
 * Call ids and the window of call outcomes an actor keeps (exactly-once execution of retries).
 *
 * A call id is `<incarnation>.<n>.<created>`: the calling node's incarnation, a counter, and
 * when the id was made (ms, base 36). An actor keeps the outcomes of its recent calls — the
 * last `MAX_RECENT_CALLS`, none older than the dedup window — so a retry with a known id is
 * answered from its outcome instead of running again. A retry whose outcome is not there may
 * have run and been forgotten: when the id is older than the oldest outcome kept, the actor
 * cannot tell, and answers `CallOutcomeUnknownError` rather than run it a second time.
 */

/** Outcomes an actor keeps (its owner, its backups, its records). */
export const MAX_RECENT_CALLS = 64;

/**
 * Slack for clocks of different nodes (the id's time is the caller's, an outcome's the owner's):
 * a retry made up to this long after the oldest outcome kept is still refused.
 */
export const CLOCK_SLACK_MS = 100;

/** `forgotten` advanced past the outcomes of `dropped` (the newest time any of them was recorded). */
export function forgetCalls(forgotten: number | undefined, dropped: ReadonlyArray<{ readonly at: number }>): number | undefined {
  let out = forgotten;
  for (const c of dropped) if (out === undefined || c.at > out) out = c.at;
  return out;
}

/** Whether a call id, not among the outcomes kept, is old enough that its outcome may have been forgotten. */
export function mayHaveForgotten(callId: string, forgotten: number | undefined): boolean {
  if (forgotten === undefined) return false;
  const made = callIdTime(callId);
  return made !== undefined && made <= forgotten + CLOCK_SLACK_MS;
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
