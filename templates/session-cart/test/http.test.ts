import test from "ava";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createHttpHandler } from "berth/http";
import { createTestNode, type TestNode } from "berth/testing";
import { Cart, LIMITS } from "../src/cart.js";
import { BODY_LIMIT, http, parseAddItem } from "../src/http.js";

/** The routes on one in-process node (no cluster), behind a real HTTP server on a free port. */
async function serve(t: { teardown(fn: () => Promise<void>): void }): Promise<{ url: string; node: TestNode }> {
  const node = await createTestNode({ actors: [Cart] });
  const server = createServer(createHttpHandler({ node, app: http, secrets: [randomBytes(32).toString("hex")] }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await node.stop();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, node };
}

function post(url: string, body: string, cookie?: string, type = "application/json"): Promise<Response> {
  return fetch(`${url}/api/cart/items`, { method: "POST", headers: { "content-type": type, ...(cookie ? { cookie } : {}) }, body });
}

function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie");
  if (set === null) throw new Error("the response set no cookie");
  return set.split(";")[0] as string;
}

test("the cart follows its signed cookie", async (t) => {
  const { url, node } = await serve(t);
  const first = await post(url, JSON.stringify({ sku: "apple", qty: 2 }));
  t.is(first.status, 200);
  t.is(first.headers.get("x-berth-node"), node.id);
  t.regex(first.headers.get("set-cookie") ?? "", /^berth\.sid=[^;]+; .*HttpOnly/);
  t.deepEqual(await first.json(), { items: [{ sku: "apple", qty: 2 }], count: 2 });
  const cookie = cookieOf(first);
  await post(url, JSON.stringify({ sku: "pear", qty: 1 }), cookie);
  t.deepEqual(await (await fetch(`${url}/api/cart`, { headers: { cookie } })).json(), { items: [{ sku: "apple", qty: 2 }, { sku: "pear", qty: 1 }], count: 3 });
  const removed = await fetch(`${url}/api/cart/items/apple`, { method: "DELETE", headers: { cookie } });
  t.deepEqual(await removed.json(), { items: [{ sku: "pear", qty: 1 }], count: 1 });
  t.deepEqual(await (await fetch(`${url}/api/cart`)).json(), { items: [], count: 0 }, "another browser has its own, empty cart");
});

test("a tampered cookie is ignored: the request gets a new, empty cart", async (t) => {
  const { url } = await serve(t);
  const cookie = cookieOf(await post(url, JSON.stringify({ sku: "apple", qty: 2 })));
  const forged = cookie.replace(/.$/, (ch) => (ch === "A" ? "B" : "A"));
  const res = await fetch(`${url}/api/cart`, { headers: { cookie: forged } });
  t.deepEqual(await res.json(), { items: [], count: 0 });
});

test("reading without a session creates none", async (t) => {
  const { url, node } = await serve(t);
  const res = await fetch(`${url}/api/cart`);
  t.deepEqual(await res.json(), { items: [], count: 0 });
  t.is(res.headers.get("set-cookie"), null);
  t.is(node.stats().active, 0, "no cart actor was activated");
});

test("bad requests get a JSON error and leave the cart unchanged", async (t) => {
  const { url } = await serve(t);
  const cookie = cookieOf(await post(url, JSON.stringify({ sku: "apple", qty: 1 })));
  const bad: Array<[body: string, status: number, type?: string]> = [
    ["{", 400],
    ['{"sku":"apple","qty":"1"}', 400],
    ['{"sku":"apple","qty":0}', 400],
    ['{"qty":1}', 400],
    ['{"sku":"apple","qty":1}', 415, "text/plain"],
    [JSON.stringify({ sku: "apple", qty: 1, pad: "x".repeat(BODY_LIMIT) }), 413],
    [JSON.stringify({ sku: "apple", qty: LIMITS.maxQty }), 400], // refused by the cart itself
  ];
  for (const [body, status, type] of bad) {
    const res = await post(url, body, cookie, type);
    t.is(res.status, status, body.slice(0, 40));
    t.is(typeof ((await res.json()) as { error?: unknown }).error, "string");
  }
  t.deepEqual(await (await fetch(`${url}/api/cart`, { headers: { cookie } })).json(), { items: [{ sku: "apple", qty: 1 }], count: 1 });
});

test("parseAddItem accepts exactly {sku: string, qty: positive integer}", (t) => {
  t.deepEqual(parseAddItem({ sku: "a", qty: 1 }), { sku: "a", qty: 1 });
  for (const bad of [null, [], "a", {}, { sku: "a" }, { qty: 1 }, { sku: "", qty: 1 }, { sku: "a", qty: 0 }, { sku: "a", qty: 1.5 }, { sku: "a", qty: "1" }, { sku: 1, qty: 1 }]) {
    t.is(typeof parseAddItem(bad), "string", JSON.stringify(bad));
  }
});
