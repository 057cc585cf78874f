import test from "ava";
import { ActorHandlerError } from "berth";
import { createTestNode } from "berth/testing";
import { Cart, LIMITS } from "../src/cart.js";

// createTestNode runs the real actor runtime in this process, with a clock that moves only
// when the test advances it.

test("adding accumulates quantities in first-added order; remove drops a line", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  t.teardown(() => node.stop());
  const cart = node.ref(Cart, "session-1");
  await cart.add("apple", 2);
  await cart.add("pear", 1);
  t.deepEqual(await cart.add("apple", 3), { items: [{ sku: "apple", qty: 5 }, { sku: "pear", qty: 1 }], count: 6 });
  t.deepEqual(await cart.remove("apple"), { items: [{ sku: "pear", qty: 1 }], count: 1 });
  t.deepEqual(await cart.get(), { items: [{ sku: "pear", qty: 1 }], count: 1 });
});

test("each session has its own cart", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  t.teardown(() => node.stop());
  await node.ref(Cart, "a").add("apple", 1);
  t.deepEqual(await node.ref(Cart, "b").get(), { items: [], count: 0 });
});

test("bad input is refused and leaves the cart unchanged", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  t.teardown(() => node.stop());
  const cart = node.ref(Cart, "s");
  await cart.add("apple", 1);
  for (const [sku, qty] of [["apple", 0], ["apple", -1], ["apple", 1.5], ["", 1], ["x".repeat(LIMITS.maxSkuLength + 1), 1], ["apple", LIMITS.maxQty]] as const) {
    const e = await t.throwsAsync(cart.add(sku, qty), { instanceOf: ActorHandlerError });
    t.is(e.errorName, "CartInputError");
  }
  t.deepEqual(await cart.get(), { items: [{ sku: "apple", qty: 1 }], count: 1 });
});

test("a cart nobody touches for 30 minutes is deleted; one in use is kept", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  t.teardown(() => node.stop());
  await node.ref(Cart, "idle").add("apple", 1);
  await node.ref(Cart, "busy").add("apple", 1);
  for (let minute = 0; minute < 40; minute += 10) {
    await node.clock.advance("10m");
    await node.ref(Cart, "busy").add("pear", 1);
  }
  t.is(node.stats().destroyed, 1, "only the idle cart expired");
  t.deepEqual(await node.ref(Cart, "idle").get(), { items: [], count: 0 }, "it starts over, empty");
  t.is((await node.ref(Cart, "busy").get()).count, 5);
});
