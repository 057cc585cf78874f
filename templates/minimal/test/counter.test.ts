import test from "ava";
import { ActorHandlerError } from "berth";
import { createTestNode } from "berth/testing";
import { Counter } from "../src/counter.js";

// createTestNode runs the real actor runtime in this process: no cluster, no NATS.

test("increments and reads back", async (t) => {
  const node = await createTestNode({ actors: [Counter] });
  t.teardown(() => node.stop());
  const counter = node.ref(Counter, "a");
  t.is(await counter.increment(), 1);
  t.is(await counter.increment(5), 6);
  t.is(await counter.value(), 6);
  t.is(await counter.reset(), 0);
  t.is(await counter.value(), 0);
});

test("each id is its own counter", async (t) => {
  const node = await createTestNode({ actors: [Counter] });
  t.teardown(() => node.stop());
  await node.ref(Counter, "a").increment(3);
  t.is(await node.ref(Counter, "b").value(), 0);
});

test("concurrent calls run one at a time: no update is lost", async (t) => {
  const node = await createTestNode({ actors: [Counter] });
  t.teardown(() => node.stop());
  const counter = node.ref(Counter, "busy");
  const results = await Promise.all(Array.from({ length: 100 }, () => counter.increment()));
  t.is(await counter.value(), 100);
  t.deepEqual([...results].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1), "every call saw its own count");
});

test("a refused increment fails the call and leaves the count unchanged", async (t) => {
  const node = await createTestNode({ actors: [Counter] });
  t.teardown(() => node.stop());
  const counter = node.ref(Counter, "a");
  await counter.increment(2);
  for (const by of [0, -1, 1.5, Number.NaN]) {
    const e = await t.throwsAsync(counter.increment(by), { instanceOf: ActorHandlerError });
    t.is(e.errorName, "CounterInputError");
  }
  t.is(await counter.value(), 2);
});
