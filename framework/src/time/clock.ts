/**
 * Time as the runtime sees it. Every timer in Berth (durable actor timers, idle timeouts,
 * heartbeats) goes through a `Clock`, so tests can drive time with a `FakeClock`
 * (`berth/testing`) instead of waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once `delayMs` have passed. Returns a handle for `clearTimer`. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** An opaque handle returned by `Clock.setTimer`. */
export type TimerHandle = { readonly __timerHandle: true } | NodeJS.Timeout;

/** The real clock: `Date.now()` and `setTimeout`, unref'd so timers never keep a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    // setTimeout's maximum delay is 2^31-1 ms; longer timers re-arm when they fire early.
    const t = setTimeout(fn, Math.min(Math.max(0, delayMs), 0x7fffffff));
    t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
