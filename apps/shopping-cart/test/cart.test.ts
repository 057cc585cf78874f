import test from "ava";
import { ActorHandlerError } from "berth";
import { createTestNode } from "berth/testing";
import { Cart } from "../src/cart.js";

test("adding accumulates quantities and keeps first-added order", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  const cart = node.ref(Cart, "session-1");
  await cart.add("apple", 2);
  await cart.add("pear", 1);
  t.deepEqual(await cart.add("apple", 3), { items: [{ sku: "apple", qty: 5 }, { sku: "pear", qty: 1 }], count: 6 });
  t.deepEqual(await cart.remove("apple"), { items: [{ sku: "pear", qty: 1 }], count: 1 });
  t.deepEqual(await cart.get(), { items: [{ sku: "pear", qty: 1 }], count: 1 });
  await node.stop();
});

test("carts are isolated per session", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  await node.ref(Cart, "a").add("apple", 1);
  t.deepEqual(await node.ref(Cart, "b").get(), { items: [], count: 0 });
  await node.stop();
});

test("bad input is refused and leaves the cart unchanged", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  const cart = node.ref(Cart, "s");
  await cart.add("apple", 1);
  for (const [sku, qty] of [["apple", 0], ["apple", -1], ["apple", 1.5], ["", 1], ["x".repeat(65), 1], ["apple", 10_000]] as const) {
    const e = await t.throwsAsync(cart.add(sku, qty), { instanceOf: ActorHandlerError });
    t.is(e.errorName, "CartInputError");
  }
  t.deepEqual(await cart.get(), { items: [{ sku: "apple", qty: 1 }], count: 1 });
  await node.stop();
});
