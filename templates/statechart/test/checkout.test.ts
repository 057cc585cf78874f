import test from "ava";
import { EventNotAcceptedError, InvalidEventError } from "berth";
import { createTestNode, type TestNode } from "berth/testing";
import { Checkout, type Address } from "../src/checkout.js";

// createTestNode runs the real actor runtime in this process with a FakeClock: time moves
// only when the test advances it, and every durable timer due on the way fires, in order.

/** The deadline the checkout promises (its ABANDON_AFTER_MS), written out so a changed constant fails here. */
const FIFTEEN_MINUTES = 15 * 60_000;

const ADDRESS: Address = { name: "Ada", street: "1 Main St", city: "Springfield", postcode: "12345" };

async function testNode(t: { teardown(fn: () => Promise<void>): void }): Promise<TestNode> {
  const node = await createTestNode({ actors: [Checkout] });
  t.teardown(() => node.stop());
  return node;
}

/** A checkout brought to `step` (each step entered just now). */
async function checkoutAt(node: TestNode, id: string, step: "cart" | "shipping" | "payment") {
  const c = node.ref(Checkout, id);
  await c.send({ type: "ADD_ITEM", sku: "apple", qty: 2 });
  if (step === "cart") return c;
  await c.send({ type: "CHECKOUT" });
  if (step === "shipping") return c;
  await c.send({ type: "SET_ADDRESS", address: ADDRESS });
  return c;
}

test("the wizard: cart → shipping → payment → done, with BACK", async (t) => {
  const node = await testNode(t);
  const c = node.ref(Checkout, "c1");
  t.is((await c.snapshot()).value, "cart");
  await c.send({ type: "ADD_ITEM", sku: "apple", qty: 2 });
  t.deepEqual((await c.send({ type: "ADD_ITEM", sku: "apple", qty: 1 })).context.items, [{ sku: "apple", qty: 3 }]);
  t.is((await c.send({ type: "CHECKOUT" })).value, "shipping");
  t.is((await c.send({ type: "BACK" })).value, "cart");
  await c.send({ type: "CHECKOUT" });
  t.is((await c.send({ type: "SET_ADDRESS", address: ADDRESS })).value, "payment");
  const done = await c.send({ type: "PAY", paymentRef: "pay_123" });
  t.is(done.value, "done");
  t.is(done.status, "done");
  t.deepEqual(done.output, { items: [{ sku: "apple", qty: 3 }], address: ADDRESS, paymentRef: "pay_123" });
});

for (const step of ["cart", "shipping", "payment"] as const) {
  test(`abandoned exactly 15 minutes after the last activity, in the ${step} step`, async (t) => {
    const node = await testNode(t);
    const c = await checkoutAt(node, "c1", step);
    await node.clock.advance(FIFTEEN_MINUTES - 1);
    t.is((await c.snapshot()).value, step, "one millisecond before the deadline: still there");
    await node.clock.advance(1);
    const s = await c.snapshot();
    t.is(s.value, "abandoned");
    t.deepEqual(s.context.items, [{ sku: "apple", qty: 2 }], "what was in it is kept, for a reminder email");
  });
}

test("every accepted event restarts the deadline; a finished checkout is never abandoned", async (t) => {
  const node = await testNode(t);
  const c = node.ref(Checkout, "c1");
  await c.send({ type: "ADD_ITEM", sku: "apple", qty: 1 });
  await node.clock.advance("10m");
  await c.send({ type: "ADD_ITEM", sku: "pear", qty: 1 }); // activity in the same step
  await node.clock.advance("10m");
  await c.send({ type: "CHECKOUT" });
  await node.clock.advance("10m");
  await c.send({ type: "SET_ADDRESS", address: ADDRESS });
  await node.clock.advance("14m");
  t.is((await c.snapshot()).value, "payment", "44 minutes in, never 15 without activity");
  await c.send({ type: "PAY", paymentRef: "pay_1" });
  await node.clock.advance("1h");
  t.is((await c.snapshot()).value, "done");
});

test("the deadline survives passivation: the checkout is abandoned while nobody calls it", async (t) => {
  const node = await testNode(t);
  await checkoutAt(node, "c1", "payment");
  await node.clock.advance("6m"); // idleTimeout is 5 minutes
  t.is(node.stats().active, 0, "passivated while its deadline is pending");
  t.is(node.stats().passivations, 1);
  const fired = node.stats().timersFired;
  await node.clock.advance(FIFTEEN_MINUTES - 6 * 60_000);
  t.is(node.stats().timersFired, fired + 1, "the deadline fired without any call");
  t.is((await node.ref(Checkout, "c1").snapshot()).value, "abandoned");
});

test("events the step does not accept are refused; the state and the deadline stay as they were", async (t) => {
  const node = await testNode(t);
  const c = await checkoutAt(node, "c1", "shipping");
  const before = await c.snapshot();
  await node.clock.advance("10m");
  const refused = [
    { type: "PAY", paymentRef: "pay_1" }, // not in this step
    { type: "CHECKOUT" }, // already past the cart
    { type: "SET_ADDRESS", address: { ...ADDRESS, city: "" } }, // guard: incomplete address
    { type: "RESTART" },
  ] as const;
  for (const event of refused) {
    const e = await t.throwsAsync(c.send(event), { instanceOf: EventNotAcceptedError }, event.type);
    t.is(e.eventType, event.type);
    t.is(e.state, "shipping");
  }
  t.deepEqual(await c.snapshot(), before, "nothing changed");
  await node.clock.advance("5m");
  t.is((await c.snapshot()).value, "abandoned", "refused events are not activity: the deadline held");
});

test("bad cart changes are refused, and so is anything after the end", async (t) => {
  const node = await testNode(t);
  const c = node.ref(Checkout, "c1");
  for (const event of [
    { type: "CHECKOUT" }, // empty cart
    { type: "ADD_ITEM", sku: "apple", qty: 0 },
    { type: "ADD_ITEM", sku: "apple", qty: 1.5 },
    { type: "ADD_ITEM", sku: "", qty: 1 },
    { type: "ADD_ITEM", sku: "apple", qty: 101 },
    { type: "REMOVE_ITEM", sku: "pear" },
  ] as const) {
    await t.throwsAsync(c.send(event), { instanceOf: EventNotAcceptedError }, JSON.stringify(event));
  }
  // Events that are not even events (what a client could send without the types):
  const send = (event: unknown): Promise<unknown> => (c.send as (e: unknown) => Promise<unknown>).call(c, event);
  await t.throwsAsync(send("CHECKOUT"), { instanceOf: InvalidEventError });
  await t.throwsAsync(send({ type: "xstate.after.abandonAfter.checkout.cart" }), { instanceOf: InvalidEventError, message: /reserved/ });
  t.deepEqual((await c.snapshot()).context.items, []);

  const paid = await checkoutAt(node, "c2", "payment");
  await paid.send({ type: "PAY", paymentRef: "pay_1" });
  await t.throwsAsync(paid.send({ type: "BACK" }), { instanceOf: EventNotAcceptedError });
});

test("an abandoned checkout can start over, empty", async (t) => {
  const node = await testNode(t);
  const c = await checkoutAt(node, "c1", "cart");
  await node.clock.advance(FIFTEEN_MINUTES);
  t.is((await c.snapshot()).value, "abandoned");
  const fresh = await c.send({ type: "RESTART" });
  t.is(fresh.value, "cart");
  t.deepEqual(fresh.context, { items: [], address: null, paymentRef: null });
  await node.clock.advance(FIFTEEN_MINUTES);
  t.is((await c.snapshot()).value, "abandoned", "the new cart step has its own deadline");
});
