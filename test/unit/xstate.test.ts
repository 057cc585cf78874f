import test from "ava";
import { assign, setup } from "xstate";
import { defineMachineActor, EventNotAcceptedError, InvalidEventError, MachineError } from "berth";
import { createTestNode } from "berth/testing";

const checkout = setup({
  types: {
    context: {} as { items: number; address: string | null },
    events: {} as { type: "ADDRESS"; address: string } | { type: "PAY" } | { type: "BACK" } | { type: "EXPLODE" },
    input: {} as { items: number },
  },
  actions: {
    explode: () => {
      throw new Error("payment provider exploded");
    },
  },
}).createMachine({
  id: "checkout",
  context: ({ input }) => ({ items: input.items, address: null }),
  initial: "shipping",
  states: {
    shipping: {
      on: { ADDRESS: { target: "payment", actions: assign({ address: ({ event }) => event.address }) } },
    },
    payment: {
      after: { 900_000: "abandoned" },
      on: { PAY: "paid", BACK: "shipping", EXPLODE: { actions: "explode" } },
    },
    abandoned: { type: "final" },
    paid: { type: "final" },
  },
});

const Checkout = defineMachineActor("checkout", checkout, { input: () => ({ items: 3 }), idleTimeout: "1m" });

test("events are the calls; the snapshot is the state", async (t) => {
  const node = await createTestNode({ actors: [Checkout] });
  const c = node.ref(Checkout, "c1");
  const first = await c.snapshot();
  t.is(first.value, "shipping");
  t.deepEqual(first.context, { items: 3, address: null });
  t.false(await c.can({ type: "PAY" }));
  const after = await c.send({ type: "ADDRESS", address: "1 Main St" });
  t.is(after.value, "payment");
  t.is(after.context.address, "1 Main St");
  t.true(await c.can({ type: "PAY" }));
  const paid = await c.send({ type: "PAY" });
  t.is(paid.status, "done");
  await node.stop();
});

test("a delayed transition is a durable timer and fires without any call", async (t) => {
  const node = await createTestNode({ actors: [Checkout] });
  const c = node.ref(Checkout, "c1");
  await c.send({ type: "ADDRESS", address: "x" });
  await node.clock.advance("14m");
  t.is((await c.snapshot()).value, "payment");
  await node.clock.advance("1m");
  const s = await c.snapshot();
  t.is(s.value, "abandoned");
  t.is(s.status, "done");
  await node.stop();
});

test("the delay survives passivation", async (t) => {
  const node = await createTestNode({ actors: [Checkout] });
  const c = node.ref(Checkout, "c1");
  await c.send({ type: "ADDRESS", address: "x" });
  await node.clock.advance("5m");
  t.is(node.stats().active, 0, "passivated while waiting");
  await node.clock.advance("10m");
  t.is((await c.snapshot()).value, "abandoned");
  await node.stop();
});

test("leaving a state cancels its delay, so re-entering it starts a fresh one", async (t) => {
  const node = await createTestNode({ actors: [Checkout] });
  const c = node.ref(Checkout, "c1");
  await c.send({ type: "ADDRESS", address: "x" });
  await node.clock.advance("10m");
  await c.send({ type: "BACK" });
  await c.send({ type: "ADDRESS", address: "y" });
  await node.clock.advance("10m"); // 20 minutes after the first entry, 10 after the second
  t.is((await c.snapshot()).value, "payment", "the first delay was cancelled");
  await node.clock.advance("5m");
  t.is((await c.snapshot()).value, "abandoned");
  await node.stop();
});

test("bad events are refused with a clear error and change nothing", async (t) => {
  const node = await createTestNode({ actors: [Checkout] });
  const c = node.ref(Checkout, "c1");
  const send = (event: unknown): Promise<unknown> => (c.send as (event: unknown) => Promise<unknown>).call(c, event);
  await t.throwsAsync(send("ADDRESS"), { instanceOf: InvalidEventError, message: /expected an object/ });
  await t.throwsAsync(send({ nope: 1 }), { instanceOf: InvalidEventError, message: /"type" must be a non-empty string/ });
  await t.throwsAsync(send({ type: "xstate.after.900000.checkout.payment" }), { instanceOf: InvalidEventError, message: /reserved/ });
  t.is((await c.snapshot()).value, "shipping");
  await node.stop();
});

test("an action that throws fails the call and leaves the machine where it was", async (t) => {
  const node = await createTestNode({ actors: [Checkout] });
  const c = node.ref(Checkout, "c1");
  await c.send({ type: "ADDRESS", address: "x" });
  await t.throwsAsync(c.send({ type: "EXPLODE" }), { instanceOf: MachineError, message: /payment provider exploded/ });
  const s = await c.snapshot();
  t.is(s.value, "payment");
  t.is(s.status, "active");
  t.is((await c.send({ type: "PAY" })).value, "paid", "the machine keeps working");
  await node.stop();
});

test("refuseUnhandled: an event the state does not accept fails the call and changes nothing", async (t) => {
  const Strict = defineMachineActor("strict-checkout", checkout, { input: () => ({ items: 3 }), refuseUnhandled: true });
  const node = await createTestNode({ actors: [Checkout, Strict] });
  const strict = node.ref(Strict, "c1");
  const e = await t.throwsAsync(strict.send({ type: "PAY" }), { instanceOf: EventNotAcceptedError });
  t.is(e.eventType, "PAY");
  t.is(e.state, "shipping");
  t.regex(e.message, /strict-checkout\/c1 does not accept PAY in state "shipping"/);
  t.is((await strict.snapshot()).value, "shipping");
  t.is((await strict.send({ type: "ADDRESS", address: "x" })).value, "payment", "accepted events still work");
  // The delayed transition is the machine's own event: never refused.
  await node.clock.advance("15m");
  t.is((await strict.snapshot()).value, "abandoned");
  // Without the option, xstate's default: ignored, the unchanged state answered.
  t.is((await node.ref(Checkout, "c1").send({ type: "PAY" })).value, "shipping");
  await node.stop();
});
