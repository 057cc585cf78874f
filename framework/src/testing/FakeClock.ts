import type { Clock, TimerHandle } from "../time/clock.js";
import { toMillis, type Duration } from "../time/duration.js";

interface FakeTimer {
  readonly handle: TimerHandle;
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock for tests: time stands still until you `advance` it, and then every timer due on
 * the way fires in order (durable actor timers, idle timeouts, expiry), with the turns they
 * start allowed to finish before the next one fires.
 *
 * @example
 * ```ts
 * const node = await createTestNode({ actors: [Checkout] });
 * await node.ref(Checkout, "c1").start();
 * await node.clock.advance("15m"); // the abandonment timer fires
 * ```
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  /** @param start the initial time, ms since the epoch (default 2026-01-01T00:00:00Z) */
  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const handle = { __timerHandle: true } as const;
    this.timers.push({ handle, due: this.current + Math.max(0, delayMs), seq: this.seq++, fn });
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `by`, firing every timer that falls due, earliest first, and
   * letting the work each one starts settle before the next.
   */
  async advance(by: Duration): Promise<void> {
    const target = this.current + toMillis(by, "advance");
    await settle();
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next.due > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.due);
      next.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Sets the time (never backwards) and fires what fell due. */
  async set(time: Date | number): Promise<void> {
    const t = typeof time === "number" ? time : time.getTime();
    await this.advance(Math.max(0, t - this.current));
  }

  private nextDue(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    return best;
  }
}

/** Lets pending promise callbacks and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
