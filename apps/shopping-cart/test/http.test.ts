import test from "ava";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHttpHandler } from "berth/http";
import { createTestNode, type TestNode } from "berth/testing";
import { Cart } from "../src/cart.js";
import { http, parseAddItem } from "../src/http.js";

/**
 * The cart's routes on one in-process node (no cluster): what a request may send and what
 * it gets back. test/integration/http.test.ts drives the same routes through a real cluster.
 */
interface Served {
  url: string;
  node: TestNode;
  close(): Promise<void>;
}

async function serve(): Promise<Served> {
  const node = await createTestNode({ actors: [Cart] });
  const handler = createHttpHandler({ node, app: http, secrets: [randomBytes(32).toString("hex")] });
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    node,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await node.stop();
    },
  };
}

async function post(base: string, body: string, cookie?: string, type = "application/json"): Promise<Response> {
  return fetch(`${base}/api/cart/items`, { method: "POST", headers: { "content-type": type, ...(cookie ? { cookie } : {}) }, body });
}

function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie");
  if (set === null) throw new Error("no set-cookie");
  return set.split(";")[0] as string;
}

test("add, read, remove: the cart follows its cookie", async (t) => {
  const s = await serve();
  t.teardown(() => s.close());
  const first = await post(s.url, JSON.stringify({ sku: "apple", qty: 2 }));
  t.is(first.status, 200);
  t.is(first.headers.get("x-berth-node"), s.node.id);
  t.deepEqual(await first.json(), { items: [{ sku: "apple", qty: 2 }], count: 2 });
  const cookie = cookieOf(first);
  t.regex(first.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Lax$/);
  await post(s.url, JSON.stringify({ sku: "pear", qty: 1 }), cookie);
  t.deepEqual(await (await fetch(`${s.url}/api/cart`, { headers: { cookie } })).json(), { items: [{ sku: "apple", qty: 2 }, { sku: "pear", qty: 1 }], count: 3 });
  const removed = await fetch(`${s.url}/api/cart/items/apple`, { method: "DELETE", headers: { cookie } });
  t.deepEqual(await removed.json(), { items: [{ sku: "pear", qty: 1 }], count: 1 });
  t.deepEqual(await (await fetch(`${s.url}/api/cart`)).json(), { items: [], count: 0 }, "another browser sees its own, empty cart");
});

test("reading without a session creates none", async (t) => {
  const s = await serve();
  t.teardown(() => s.close());
  const res = await fetch(`${s.url}/api/cart`);
  t.deepEqual(await res.json(), { items: [], count: 0 });
  t.is(res.headers.get("set-cookie"), null);
  t.is(s.node.stats().active, 0, "no cart actor was activated");
});

test("the page shows the cart, escaped, and the serving node", async (t) => {
  const s = await serve();
  t.teardown(() => s.close());
  const cookie = cookieOf(await post(s.url, JSON.stringify({ sku: "<script>alert(1)</script>", qty: 1 })));
  const page = await (await fetch(`${s.url}/`, { headers: { cookie } })).text();
  t.true(page.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  t.false(page.includes("<script>alert(1)"));
  t.true(page.includes(`<strong id="node">${s.node.id}</strong>`));
});

test("bad requests get a JSON error and leave the cart unchanged", async (t) => {
  const s = await serve();
  t.teardown(() => s.close());
  const cookie = cookieOf(await post(s.url, JSON.stringify({ sku: "apple", qty: 1 })));
  const bad: Array<[string, number, string?]> = [
    ["{", 400],
    ['{"sku":"apple","qty":"1"}', 400],
    ['{"sku":"apple","qty":0}', 400],
    ['{"sku":"apple","qty":2.5}', 400],
    ['{"qty":1}', 400],
    ['{"sku":"apple","qty":1}', 415, "text/plain"],
    [JSON.stringify({ sku: "apple", qty: 1, pad: "x".repeat(65 * 1024) }), 413],
    ['{"sku":"apple","qty":10000}', 400], // the cart's own limit
  ];
  for (const [body, status, type] of bad) {
    const res = await post(s.url, body, cookie, type);
    t.is(res.status, status, body.slice(0, 40));
    t.is(typeof ((await res.json()) as { error?: unknown }).error, "string");
  }
  t.deepEqual(await (await fetch(`${s.url}/api/cart`, { headers: { cookie } })).json(), { items: [{ sku: "apple", qty: 1 }], count: 1 });
});

test("parseAddItem accepts exactly {sku: non-empty string, qty: positive integer}", (t) => {
  t.deepEqual(parseAddItem({ sku: "a", qty: 1 }), { sku: "a", qty: 1 });
  t.deepEqual(parseAddItem({ sku: "a", qty: 3, extra: true }), { sku: "a", qty: 3 }, "extra fields are dropped");
  for (const bad of [null, [], "a", 1, {}, { sku: "a" }, { qty: 1 }, { sku: "", qty: 1 }, { sku: "a", qty: 0 }, { sku: "a", qty: -2 }, { sku: "a", qty: 1.5 }, { sku: "a", qty: Number.NaN }, { sku: "a", qty: "1" }, { sku: 1, qty: 1 }]) {
    t.is(typeof parseAddItem(bad), "string", JSON.stringify(bad));
  }
});

test("GET /api/cart/updates streams every change of the session's cart as Server-Sent Events", async (t) => {
  const s = await serve();
  t.teardown(() => s.close());
  t.is((await fetch(`${s.url}/api/cart/updates`)).status, 401, "no session yet: nothing to watch");
  const first = await post(s.url, JSON.stringify({ sku: "apple", qty: 1 }));
  const cookie = cookieOf(first);
  const res = await fetch(`${s.url}/api/cart/updates`, { headers: { cookie } });
  t.is(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = "";
  const until = async (part: string): Promise<void> => {
    while (!text.includes(part)) text += new TextDecoder().decode((await reader.read()).value);
  };
  await until("watching cart");
  await post(s.url, JSON.stringify({ sku: "pear", qty: 2 }), cookie);
  await fetch(`${s.url}/api/cart/items/apple`, { method: "DELETE", headers: { cookie } });
  await until(`"count":2}`);
  const data = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)) as { count: number });
  t.deepEqual(data.map((d) => d.count), [3, 2], "one message per change, in order");
  await reader.cancel();
});
