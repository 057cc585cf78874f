import { setup, type AnyActorLogic } from "xstate";
import type { Clock } from "../time/clock.js";

/**
 * The state machines of membership. Both are pure: timers come from the clock given to
 * `createActor` (see `xstateClock`), and everything they decide is read from their state.
 */

/**
 * A node's own life: `starting → joining → up → leaving → down`, with `isolated` while its
 * lease has lapsed (it cannot reach NATS, so it must not serve) and a way back to `joining`
 * when it finds itself removed from the view (it was declared down while alive).
 */
export const nodeLifecycle = setup({
  types: {
    events: {} as
      | { type: "CONNECTED" }
      | { type: "IN_VIEW" }
      | { type: "REMOVED" }
      | { type: "LEASE_LOST" }
      | { type: "LEASE_RENEWED" }
      | { type: "LEAVE" }
      | { type: "LEFT" }
      | { type: "FAIL" },
  },
}).createMachine({
  id: "node",
  initial: "starting",
  states: {
    starting: { on: { CONNECTED: "joining", FAIL: "down", LEAVE: "down" } },
    joining: { on: { IN_VIEW: "up", LEAVE: "leaving", FAIL: "down" } },
    up: { on: { REMOVED: "joining", LEASE_LOST: "isolated", LEAVE: "leaving", FAIL: "down" } },
    isolated: { on: { LEASE_RENEWED: "up", REMOVED: "joining", LEAVE: "leaving", FAIL: "down" } },
    leaving: { on: { LEFT: "down", FAIL: "down" } },
    down: { type: "final" },
  },
});

/** Timing of failure detection, in ms. */
export interface LivenessTiming {
  readonly suspectAfterMs: number;
  readonly downAfterMs: number;
}

/**
 * How one node sees another: `alive` while heartbeats arrive, `suspect` after a short
 * silence, `down` (final) after `downAfterMs` without one. Every heartbeat restarts the wait.
 */
export function memberLiveness(timing: LivenessTiming) {
  return setup({
    types: { events: {} as { type: "HEARD" } },
    delays: {
      suspect: timing.suspectAfterMs,
      down: Math.max(1, timing.downAfterMs - timing.suspectAfterMs),
    },
  }).createMachine({
    id: "member",
    initial: "alive",
    states: {
      alive: { after: { suspect: "suspect" }, on: { HEARD: { target: "alive", reenter: true } } },
      suspect: { after: { down: "down" }, on: { HEARD: "alive" } },
      down: { type: "final" },
    },
  });
}

/** Adapts a Berth `Clock` to the clock xstate asks for, so machine timers follow fake time in tests. */
export function xstateClock(clock: Clock): { setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown; clearTimeout(id: unknown): void } {
  return {
    setTimeout: (fn, ms) => clock.setTimer(() => fn(), ms),
    clearTimeout: (id) => clock.clearTimer(id as Parameters<Clock["clearTimer"]>[0]),
  };
}

export type MachineLogic = AnyActorLogic;
