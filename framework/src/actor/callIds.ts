/**
 * Call ids and the window of call outcomes an actor keeps (exactly-once execution of retries).
 *
 * A call id is `<incarnation>.<n>.<made>`: the calling node's incarnation, a counter, and when
 * the id was made (ms, base 36, the caller's clock). An actor keeps the outcomes of its recent
 * calls — the last `MAX_RECENT_CALLS` (fewer, down to `MIN_KEPT_OUTCOMES`, where they are
 * larger than `MAX_OUTCOME_CHARS` together), none older than the dedup window — so a retry with a
 * known id is answered from its outcome instead of running again. Beyond that the actor keeps
 * one number: the latest `made` among the outcomes it dropped. A call whose outcome is not kept
 * and whose id was made no later than that may have run and been forgotten: it is refused with
 * `CallOutcomeUnknownError`, not run a second time. Both sides of the comparison are times of
 * the callers' clocks, and a dropped call compares with its own retry exactly, whatever the
 * clocks; a first attempt is refused only if at least `MIN_KEPT_OUTCOMES` calls made after it
 * ran before it.
 */

/** Outcomes an actor keeps (its owner, its backups, its records). */
export const MAX_RECENT_CALLS = 64;

/**
 * How large the kept outcomes of one actor may be together, in characters as `outcomeChars`
 * estimates them; beyond it the oldest go, down to `MIN_KEPT_OUTCOMES`. Without it an actor whose
 * handlers return its whole state (a cart answering each change with the cart) kept 64 copies
 * of it on its owner and on every backup — 320 KB a cart of 200 lines — and a failover had to
 * copy and re-encode all of them at once.
 */
export const MAX_OUTCOME_CHARS = 64 * 1024;

/**
 * Outcomes kept whatever their size. A first attempt is refused as possibly forgotten only
 * once this many calls made after it ran before it (see above), so it must not be small.
 */
export const MIN_KEPT_OUTCOMES = 16;

/** Whether `kept` outcomes of `chars` together are more than an actor keeps (the oldest go first). */
export function overOutcomeBounds(kept: number, chars: number): boolean {
  return kept > MAX_RECENT_CALLS || (chars > MAX_OUTCOME_CHARS && kept > MIN_KEPT_OUTCOMES);
}

const sizes = new WeakMap<object, number>();
/** Running totals of `outcomeChars` over the outcome lists `keepOutcome` keeps. */
const totals = new WeakMap<object, number>();

/**
 * About how many characters an outcome takes when encoded: strings by length, other leaves at
 * a few characters each, keys included. The walk stops once past `MAX_OUTCOME_CHARS` (a value
 * that large is kept alone anyway), so it is bounded for any value, cycles included. Memoized
 * per outcome object.
 */
export function outcomeChars(outcome: { readonly id: string; readonly value?: unknown }): number {
  const known = sizes.get(outcome);
  if (known !== undefined) return known;
  let n = outcome.id.length + 24;
  const stack: unknown[] = [outcome.value];
  while (stack.length > 0 && n <= MAX_OUTCOME_CHARS) {
    const v = stack.pop();
    if (typeof v === "string") n += v.length + 2;
    else if (v === null || typeof v !== "object") n += 6;
    else if (ArrayBuffer.isView(v)) n += v.byteLength * 2;
    else if (v instanceof Date) n += 26;
    else if (v instanceof Map) {
      n += 2;
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set || Array.isArray(v)) {
      n += 2;
      for (const x of v as Iterable<unknown>) {
        n += 1;
        stack.push(x);
      }
    } else {
      n += 2;
      for (const k of Object.keys(v)) {
        n += k.length + 4;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  sizes.set(outcome, n);
  return n;
}

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
 * Appends an outcome to a window of outcomes, drops the oldest beyond its bounds
 * (`overOutcomeBounds`), and returns `forgotten` advanced past them. For the copies that keep no clock (backups, log
 * replay); the owner also drops by age (Activation.pruneCalls).
 */
export function keepOutcome(calls: Array<{ readonly id: string; readonly value?: unknown }>, outcome: { readonly id: string; readonly value?: unknown }, forgotten: number | undefined): number | undefined {
  let chars = totals.get(calls) ?? calls.reduce((sum, c) => sum + outcomeChars(c), 0);
  calls.push(outcome);
  chars += outcomeChars(outcome);
  let drop = 0;
  while (overOutcomeBounds(calls.length - drop, chars)) chars -= outcomeChars(calls[drop++] as { readonly id: string });
  totals.set(calls, chars);
  return drop > 0 ? forgetCalls(forgotten, calls.splice(0, drop)) : forgotten;
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
