import test from "ava";
import { keepOutcome, MAX_OUTCOME_CHARS, MAX_RECENT_CALLS, MIN_KEPT_OUTCOMES, outcomeChars } from "../../framework/src/actor/callIds.js";

const outcome = (i: number, value?: unknown) => ({ id: `inc.${i.toString(36)}.${(1_800_000_000_000 + i).toString(36)}`, at: 0, ok: true, ...(value === undefined ? {} : { value }) });

test("outcomeChars estimates an outcome's encoded size, and stops on values too large (cycles included)", (t) => {
  const small = outcomeChars(outcome(1, { n: 1 }));
  t.true(small > 0 && small < 100, `a small outcome: ${small}`);
  const cart = { items: Array.from({ length: 200 }, (_, i) => ({ sku: `sku-${i}`, qty: 1 })) };
  const size = outcomeChars(outcome(2, cart));
  const encoded = JSON.stringify(cart).length;
  t.true(size > encoded * 0.5 && size < encoded * 2, `estimate ${size} for ${encoded} characters of JSON`);
  const loop: Record<string, unknown> = { s: "x".repeat(100) };
  loop.self = loop;
  t.true(outcomeChars(outcome(3, loop)) > MAX_OUTCOME_CHARS, "a cycle ends the walk at the bound");
  t.true(outcomeChars(outcome(4, new Map([["k", new Uint8Array(1000)]]))) > 2000, "maps and bytes count");
});

test("keepOutcome keeps at most MAX_RECENT_CALLS outcomes and MAX_OUTCOME_CHARS of them, the newest always, and says what it forgot", (t) => {
  const calls: Array<{ id: string; value?: unknown }> = [];
  let forgotten: number | undefined;
  for (let i = 0; i < 100; i++) forgotten = keepOutcome(calls, outcome(i), forgotten);
  t.is(calls.length, MAX_RECENT_CALLS, "small outcomes: bounded by count");
  t.is(forgotten, 1_800_000_000_000 + 35, "forgotten is the newest dropped id's time");
  const big = "x".repeat(10_000);
  for (let i = 100; i < 120; i++) forgotten = keepOutcome(calls, outcome(i, big), forgotten);
  t.is(calls.length, MIN_KEPT_OUTCOMES, "large outcomes: bounded by size, down to MIN_KEPT_OUTCOMES");
  t.deepEqual(calls.map((c) => c.id), Array.from({ length: MIN_KEPT_OUTCOMES }, (_, i) => outcome(120 - MIN_KEPT_OUTCOMES + i).id), "the newest are kept");
  t.is(forgotten, 1_800_000_000_000 + 119 - MIN_KEPT_OUTCOMES);
  const small: Array<{ id: string; value?: unknown }> = [];
  for (let i = 0; i < 40; i++) keepOutcome(small, outcome(i, "z".repeat(3_000)), undefined);
  const chars = small.reduce((n, c) => n + outcomeChars(c), 0);
  t.true(chars <= MAX_OUTCOME_CHARS && small.length > MIN_KEPT_OUTCOMES, `3 kB outcomes: kept ${small.length} of ${chars} characters`);
});
