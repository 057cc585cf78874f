import test from "ava";
import { getSimplePaths } from "xstate/graph";
import { initialTransition, transition } from "xstate";
import { initialPartitionSnapshot, nextPartitionSnapshot, partitionMachine, type PartitionEvent, type PartitionState } from "../../framework/src/migration/partitionMachine.js";

const EVENTS: PartitionEvent[] = [
  { type: "ACQUIRE_FROM_PEER" },
  { type: "ACQUIRE_RECOVER" },
  { type: "PULL_STARTED" },
  { type: "RECEIVED" },
  { type: "SOURCE_LOST" },
  { type: "RECOVERED" },
  { type: "RECOVERY_FAILED" },
  { type: "DISOWN" },
  { type: "RELEASE" },
  { type: "DRAINED" },
  { type: "TRANSFERRED" },
  { type: "RECLAIM" },
  { type: "RESET" },
];

const STATES: PartitionState[] = ["idle", "awaiting", "catchingUp", "recovering", "serving", "draining", "transferring", "released"];

const paths = getSimplePaths(partitionMachine, { events: EVENTS });

test("every state is reachable from idle", (t) => {
  const reached = new Set(paths.map((p) => String(p.state.value)));
  t.deepEqual([...reached].sort(), [...STATES].sort());
});

test("every path into serving passes through a receiving state (the records arrive before any call runs)", (t) => {
  let checked = 0;
  for (const path of paths) {
    if (path.state.value !== "serving") continue;
    const states = path.steps.map((s) => String(s.state.value));
    const firstServing = states.indexOf("serving");
    const before = states.slice(0, firstServing);
    t.true(before.some((s) => s === "catchingUp" || s === "recovering"), `path ${states.join(" > ")}`);
    checked++;
  }
  t.true(checked > 0);
});

test("a node gives a partition away only by draining first: serving never jumps to transferring, released or idle", (t) => {
  const [start] = initialTransition(partitionMachine);
  const [serving] = transition(partitionMachine, transition(partitionMachine, start, { type: "ACQUIRE_RECOVER" })[0], { type: "RECOVERED" });
  t.is(serving.value, "serving");
  for (const e of EVENTS) {
    const [next] = transition(partitionMachine, serving, e);
    t.true(next.value === "serving" || next.value === "draining", `${e.type} from serving went to ${String(next.value)}`);
  }
});

test("records are only dropped after a hand-over is confirmed or abandoned", (t) => {
  for (const path of paths) {
    const states = path.steps.map((s) => String(s.state.value));
    const events = path.steps.map((s) => s.event.type);
    for (let i = 0; i < states.length; i++) {
      if (states[i] !== "released") continue;
      t.is(events[i], "TRANSFERRED", "records are dropped only after the new owner confirmed it holds them");
      t.is(states[i - 1], "transferring");
    }
  }
});

test("a drained or transferring partition can be reclaimed and serves again with its records", (t) => {
  const [start] = initialTransition(partitionMachine);
  let s = transition(partitionMachine, start, { type: "ACQUIRE_RECOVER" })[0];
  s = transition(partitionMachine, s, { type: "RECOVERED" })[0];
  s = transition(partitionMachine, s, { type: "RELEASE" })[0];
  t.is(s.value, "draining");
  t.is(transition(partitionMachine, s, { type: "RECLAIM" })[0].value, "serving");
  s = transition(partitionMachine, s, { type: "DRAINED" })[0];
  t.is(s.value, "transferring");
  t.is(transition(partitionMachine, s, { type: "RECLAIM" })[0].value, "serving");
});

test("a receiver that loses its source falls back to recovery, and a disowned receiver stops without serving", (t) => {
  for (const path of paths) {
    const steps = path.steps;
    for (let i = 1; i < steps.length; i++) {
      const from = String(steps[i - 1]?.state.value);
      const ev = steps[i]?.event.type;
      const to = String(steps[i]?.state.value);
      if (ev === "SOURCE_LOST" && (from === "awaiting" || from === "catchingUp")) t.is(to, "recovering");
      if (ev === "DISOWN") t.is(to, "idle");
    }
  }
  t.true(paths.length > 10, `${paths.length} paths enumerated`);
});

test("the memoized transition the manager uses agrees with xstate's transition for every state and event", (t) => {
  let checked = 0;
  for (const path of paths) {
    for (const step of path.steps) {
      for (const e of EVENTS) {
        const fromXstate = transition(partitionMachine, step.state, e)[0];
        // Twice: the second answer comes from the memo.
        for (let i = 0; i < 2; i++) t.is(String(nextPartitionSnapshot(step.state, e).value), String(fromXstate.value));
        checked++;
      }
    }
  }
  t.is(String(initialPartitionSnapshot.value), String(initialTransition(partitionMachine)[0].value));
  t.true(checked > STATES.length * EVENTS.length, `${checked} pairs checked`);
});
