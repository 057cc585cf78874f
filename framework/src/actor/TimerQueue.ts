import type { Clock, TimerHandle } from "../time/clock.js";

/** One due time in the queue. Stale entries (cancelled timers) are skipped by the owner. */
export interface TimerEntry {
  readonly due: number;
  readonly actorType: string;
  readonly actorId: string;
  readonly timerId: string;
}

/**
 * All durable timers of one node in one min-heap, behind a single clock timer armed for the
 * earliest deadline. Cancelling is lazy: the firing callback checks that the timer still
 * exists in the actor's record, so cancel costs nothing here.
 */
export class TimerQueue {
  private readonly heap: TimerEntry[] = [];
  private armed: { due: number; handle: TimerHandle } | null = null;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (entry: TimerEntry) => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(entry: TimerEntry): void {
    if (this.stopped) return;
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((h[parent] as TimerEntry).due <= entry.due) break;
      h[i] = h[parent] as TimerEntry;
      i = parent;
    }
    h[i] = entry;
    this.arm();
  }

  /** Drops every entry of one actor (it moved away or was deleted). */
  removeActor(actorType: string, actorId: string): void {
    const keep = this.heap.filter((e) => e.actorType !== actorType || e.actorId !== actorId);
    if (keep.length === this.heap.length) return;
    this.heap.length = 0;
    for (const e of keep) this.add(e);
  }

  stop(): void {
    this.stopped = true;
    if (this.armed) this.clock.clearTimer(this.armed.handle);
    this.armed = null;
    this.heap.length = 0;
  }

  private arm(): void {
    const head = this.heap[0];
    if (head === undefined) return;
    if (this.armed && this.armed.due <= head.due) return;
    if (this.armed) this.clock.clearTimer(this.armed.handle);
    const due = head.due;
    this.armed = { due, handle: this.clock.setTimer(() => this.onTimer(), due - this.clock.now()) };
  }

  private onTimer(): void {
    this.armed = null;
    const now = this.clock.now();
    const due: TimerEntry[] = [];
    while (this.heap.length > 0 && (this.heap[0] as TimerEntry).due <= now) due.push(this.pop());
    this.arm();
    for (const e of due) this.fire(e);
  }

  private pop(): TimerEntry {
    const h = this.heap;
    const top = h[0] as TimerEntry;
    const last = h.pop() as TimerEntry;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && (h[r] as TimerEntry).due < (h[l] as TimerEntry).due ? r : l;
        if ((h[c] as TimerEntry).due >= last.due) break;
        h[i] = h[c] as TimerEntry;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
