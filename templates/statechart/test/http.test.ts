import test from "ava";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createHttpHandler } from "berth/http";
import { createTestNode, type TestNode } from "berth/testing";
import { ABANDON_AFTER_MS, Checkout } from "../src/checkout.js";
import { http, parseEvent } from "../src/http.js";

/** The routes on one in-process node (no cluster), behind a real HTTP server on a free port. */
async function serve(t: { teardown(fn: () => Promise<void>): void }): Promise<{ url: string; node: TestNode }> {
  const node = await createTestNode({ actors: [Checkout] });
  const server = createServer(createHttpHandler({ node, app: http, secrets: [randomBytes(32).toString("hex")] }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await node.stop();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, node };
}

function send(url: string, event: unknown, cookie?: string): Promise<Response> {
  return fetch(`${url}/api/checkout/events`, { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: typeof event === "string" ? event : JSON.stringify(event) });
}

test("a checkout through the API, following its cookie", async (t) => {
  const { url } = await serve(t);
  const first = await send(url, { type: "ADD_ITEM", sku: "apple", qty: 2 });
  t.is(first.status, 200);
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] as string;
  t.regex(cookie, /^berth\.sid=/);
  t.like(await first.json(), { step: "cart", items: [{ sku: "apple", qty: 2 }] });
  t.like(await (await send(url, { type: "CHECKOUT" }, cookie)).json(), { step: "shipping" });
  const address = { name: "Ada", street: "1 Main St", city: "Springfield", postcode: "12345" };
  t.like(await (await send(url, { type: "SET_ADDRESS", address }, cookie)).json(), { step: "payment", address });
  t.like(await (await send(url, { type: "PAY", paymentRef: "pay_1" }, cookie)).json(), { step: "done", paymentRef: "pay_1" });
  t.like(await (await fetch(`${url}/api/checkout`, { headers: { cookie } })).json(), { step: "done" });
  t.like(await (await fetch(`${url}/api/checkout`)).json(), { step: "cart", items: [] }, "another browser has its own checkout");
});

test("reading without a session creates no checkout (and starts no deadline)", async (t) => {
  const { url, node } = await serve(t);
  const res = await fetch(`${url}/api/checkout`);
  t.deepEqual(await res.json(), { step: "cart", items: [], address: null, paymentRef: null });
  t.is(res.headers.get("set-cookie"), null);
  t.is(node.stats().active, 0);
});

test("an event the step does not accept is a 409; a malformed one a 400; neither changes anything", async (t) => {
  const { url } = await serve(t);
  const first = await send(url, { type: "ADD_ITEM", sku: "apple", qty: 1 });
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const conflict = await send(url, { type: "PAY", paymentRef: "pay_1" }, cookie);
  t.is(conflict.status, 409);
  t.deepEqual(await conflict.json(), { error: "PAY is not possible in the cart step", step: "cart" });
  for (const bad of ["{", "[]", { type: "NOPE" }, { type: "ADD_ITEM", sku: "apple", qty: "2" }, { type: "SET_ADDRESS", address: { name: "Ada" } }, { type: "PAY" }]) {
    const res = await send(url, bad, cookie);
    t.is(res.status, 400, JSON.stringify(bad));
    t.is(typeof ((await res.json()) as { error?: unknown }).error, "string");
  }
  t.like(await (await fetch(`${url}/api/checkout`, { headers: { cookie } })).json(), { step: "cart", items: [{ sku: "apple", qty: 1 }] });
});

test("the API shows an abandoned checkout after 15 idle minutes", async (t) => {
  const { url, node } = await serve(t);
  const first = await send(url, { type: "ADD_ITEM", sku: "apple", qty: 1 });
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] as string;
  await node.clock.advance(ABANDON_AFTER_MS);
  t.like(await (await fetch(`${url}/api/checkout`, { headers: { cookie } })).json(), { step: "abandoned" });
  t.like(await (await send(url, { type: "RESTART" }, cookie)).json(), { step: "cart", items: [] });
});

test("parseEvent keeps only the fields an event type needs", (t) => {
  t.deepEqual(parseEvent({ type: "ADD_ITEM", sku: "a", qty: 1, extra: true }), { type: "ADD_ITEM", sku: "a", qty: 1 });
  t.deepEqual(parseEvent({ type: "BACK", sku: "a" }), { type: "BACK" });
  for (const bad of [null, 1, "BACK", {}, { type: "xstate.init" }, { type: "REMOVE_ITEM" }, { type: "ADD_ITEM", sku: "a", qty: 0 }]) {
    t.is(typeof parseEvent(bad), "string", JSON.stringify(bad));
  }
});
