import test from "ava";
import fc from "fast-check";
import { Hono } from "hono";
import { MalformedMessageError } from "berth";
import { FramedRequest } from "../../framework/src/http/FramedRequest.js";
import { decodeChunk, decodePull, decodeRequest, decodeResponse, encodeChunk, encodePull, encodeRequest, encodeResponse, isPullFrame, isRequestFrame, type RequestFrame } from "../../framework/src/http/frames.js";
import { responseParts } from "../../framework/src/http/responseParts.js";

/**
 * The frames of HTTP requests forwarded over NATS, the Request a route sees for one, and how a
 * route's Response is taken apart. test/integration/http-forwarding.test.ts drives them between
 * real nodes.
 */

// Captured before @hono/node-server replaces the global Response with its lightweight one.
const NativeResponse = globalThis.Response;
const { getRequestListener } = await import("@hono/node-server");
getRequestListener(() => new Response(null)); // installs the lightweight Request/Response, as a worker does

const LIMIT = 1 << 20;
const request: RequestFrame = {
  method: "POST",
  url: "/api/cart/items?x=1",
  epoch: 7,
  from: "gw",
  newSession: true,
  headers: ["host", "127.0.0.1:3000", "content-type", "application/json", "x-multi", "a", "x-multi", "b"],
  body: Buffer.from('{"sku":"apple","qty":2}'),
};

test("a request frame round-trips", (t) => {
  const bytes = encodeRequest(request);
  t.true(isRequestFrame(bytes));
  const back = decodeRequest(bytes, LIMIT);
  t.deepEqual({ ...back, body: Buffer.from(back.body).toString() }, { ...request, body: '{"sku":"apple","qty":2}' });
});

test("response, pull and chunk frames round-trip", (t) => {
  const r = decodeResponse(encodeResponse({ status: 201, headers: ["set-cookie", "a=1", "set-cookie", "b=2"], body: Buffer.from("hi") }), LIMIT);
  t.is(r.status, 201);
  t.deepEqual(r.headers, ["set-cookie", "a=1", "set-cookie", "b=2"]);
  t.is(Buffer.from(r.body).toString(), "hi");
  t.is(r.stream, undefined);
  t.is(decodeResponse(encodeResponse({ status: 200, headers: [], body: new Uint8Array(0), stream: "abc123" }), LIMIT).stream, "abc123");
  const pull = encodePull("abc123", false);
  t.true(isPullFrame(pull));
  t.false(isRequestFrame(pull));
  t.deepEqual(decodePull(pull), { stream: "abc123", cancel: false });
  t.deepEqual(decodePull(encodePull("abc123", true)), { stream: "abc123", cancel: true });
  for (const state of ["more", "done", "gone"] as const) {
    const c = decodeChunk(encodeChunk({ state, body: Buffer.from("xyz") }), LIMIT);
    t.is(c.state, state);
    t.is(Buffer.from(c.body).toString(), "xyz");
  }
});

test("a malformed request frame is refused with MalformedMessageError, naming what is wrong", (t) => {
  const withHead = (head: unknown, body = ""): Uint8Array => {
    const json = Buffer.from(JSON.stringify(head));
    const out = Buffer.alloc(6 + json.length);
    out.write("H1", 0, "latin1");
    out.writeUInt32BE(json.length, 2);
    json.copy(out, 6);
    return Buffer.concat([out, Buffer.from(body)]);
  };
  const good = { m: "GET", u: "/", e: 1, f: "gw", n: 0, h: [] };
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["wrong magic", Buffer.from("C1xxxxxx"), /not a forwarded request/],
    ["too short", Buffer.from("H1"), /not a forwarded request/],
    ["head longer than the frame", Buffer.from([0x48, 0x31, 0, 0, 1, 0, 0x7b]), /truncated/],
    ["head not JSON", Buffer.concat([Buffer.from([0x48, 0x31, 0, 0, 0, 2]), Buffer.from("{x")]), /JSON/],
    ["head an array", withHead([]), /must be an object/],
    ["method with a space", withHead({ ...good, m: "GET X" }), /method/],
    ["target without a slash", withHead({ ...good, u: "http://elsewhere/" }), /target/],
    ["target with CRLF", withHead({ ...good, u: "/a\r\nx-injected: 1" }), /target/],
    ["target with a space", withHead({ ...good, u: "/a b" }), /target/],
    ["negative epoch", withHead({ ...good, e: -1 }), /epoch/],
    ["forwarder not a node id", withHead({ ...good, f: "a.b" }), /forwarder/],
    ["new-session flag not 0/1", withHead({ ...good, n: true }), /new-session/],
    ["odd header list", withHead({ ...good, h: ["host"] }), /headers/],
    ["upper-case header name", withHead({ ...good, h: ["Host", "x"] }), /header name/],
    ["header name with a colon", withHead({ ...good, h: ["a:b", "x"] }), /header name/],
    ["header value with CRLF", withHead({ ...good, h: ["x-a", "1\r\nx-b: 2"] }), /invalid value/],
    ["header value not a string", withHead({ ...good, h: ["x-a", 1] }), /invalid value/],
    ["too many headers", withHead({ ...good, h: Array.from({ length: 600 }, (_, i) => (i % 2 === 0 ? `x-${i}` : "v")) }), /at most 256/],
  ];
  for (const [what, bytes, message] of cases) t.throws(() => decodeRequest(bytes, LIMIT), { instanceOf: MalformedMessageError, message }, what);
  t.throws(() => decodeRequest(encodeRequest(request), 20), { instanceOf: MalformedMessageError, message: /exceeds/ });
  t.notThrows(() => decodeRequest(withHead(good), LIMIT));
});

test("malformed response, pull and chunk frames are refused", (t) => {
  t.throws(() => decodeResponse(encodeRequest(request), LIMIT), { instanceOf: MalformedMessageError });
  t.throws(() => decodeResponse(encodeResponse({ status: 99, headers: [], body: new Uint8Array(0) }), LIMIT), { instanceOf: MalformedMessageError, message: /status/ });
  t.throws(() => decodeResponse(encodeResponse({ status: 200, headers: [], body: new Uint8Array(0), stream: "../x" }), LIMIT), { instanceOf: MalformedMessageError, message: /stream id/ });
  t.throws(() => decodePull(Buffer.from("P1{}")), { instanceOf: MalformedMessageError, message: /stream id/ });
  t.throws(() => decodePull(Buffer.from("P1nope")), { instanceOf: MalformedMessageError, message: /JSON/ });
  t.throws(() => decodeChunk(Buffer.from([0x70, 0x31, 9]), LIMIT), { instanceOf: MalformedMessageError });
  t.throws(() => decodeChunk(Buffer.from([0x70]), LIMIT), { instanceOf: MalformedMessageError });
});

test("property: arbitrary bytes never decode into anything but a frame or MalformedMessageError", (t) => {
  const prefixed = fc.tuple(fc.constantFrom("H1", "h1", "P1", "p1", ""), fc.uint8Array({ maxLength: 200 })).map(([p, b]) => Buffer.concat([Buffer.from(p, "latin1"), b]));
  t.notThrows(() =>
    fc.assert(
      fc.property(prefixed, (bytes) => {
        for (const decode of [(b: Uint8Array) => decodeRequest(b, LIMIT), (b: Uint8Array) => decodeResponse(b, LIMIT), decodePull, (b: Uint8Array) => decodeChunk(b, LIMIT)]) {
          try {
            decode(bytes);
          } catch (e) {
            if (!(e instanceof MalformedMessageError)) return false;
          }
        }
        return true;
      }),
    ),
  );
});

test("a FramedRequest answers what routes read, and builds a real Request only for the rest", async (t) => {
  const r = new FramedRequest("POST", "http://example.test/items/42?x=1", ["content-type", "application/json", "cookie", "a=1", "cookie", "b=2", "x-multi", "a", "x-multi", "b"], Buffer.from('{"n":1}'));
  t.is(r.header("Content-Type"), "application/json");
  t.is(r.header("cookie"), "a=1; b=2", "cookies join as one Cookie header");
  t.is(r.header("x-multi"), "a, b");
  t.is(r.header("absent"), undefined);
  t.is(r.headers.get("x-multi"), "a, b");
  t.is(r.bodyLength, 7);
  // @hono/node-server installs its own global Request (a subclass): either prototype chain will do.
  t.true(Request.prototype.isPrototypeOf(r) || Object.getPrototypeOf(Request.prototype).isPrototypeOf(r), "routes may treat it as a Request");
  t.deepEqual(await r.json(), { n: 1 });
  t.true(r.bodyUsed);
  await t.throwsAsync(() => r.text(), { instanceOf: TypeError, message: /already been read/ });

  const s = new FramedRequest("PUT", "http://example.test/", ["content-type", "text/plain"], Buffer.from("streamed"));
  t.is(await new NativeResponse(s.body).text(), "streamed", "body as a stream, from the real Request");
  t.is(s.signal.aborted, false);
  t.is((s as unknown as Request).mode, "cors", "other Request properties come from the real one");
  const g = new FramedRequest("GET", "http://example.test/", [], new Uint8Array(0));
  t.is(g.body, null, "a GET has no body stream");
});

test("Hono routes run on a FramedRequest: params, query, headers, JSON body, 404", async (t) => {
  const app = new Hono();
  app.post("/items/:id", async (c) => c.json({ id: c.req.param("id"), q: c.req.query("q"), type: c.req.header("content-type"), body: await c.req.json<unknown>() }, 201));
  const res = await app.fetch(new FramedRequest("POST", "http://h/items/42?q=yes", ["content-type", "application/json"], Buffer.from('{"a":[1,2]}')) as unknown as Request);
  t.is(res.status, 201);
  t.deepEqual(await res.json(), { id: "42", q: "yes", type: "application/json", body: { a: [1, 2] } });
  t.is((await app.fetch(new FramedRequest("GET", "http://h/nothing", [], new Uint8Array(0)) as unknown as Request)).status, 404);
});

test("responseParts reads the lightweight Response's cache and a native Response alike", async (t) => {
  const make = (R: typeof Response): Response[] => {
    const withCookies = new Headers({ "content-type": "application/json", "x-a": "1" });
    withCookies.append("set-cookie", "a=1; Path=/");
    withCookies.append("set-cookie", "b=2; Path=/");
    return [
      new R('{"ok":true}', { status: 200, headers: { "content-type": "application/json" } }),
      new R('{"ok":true}', { status: 201, headers: withCookies }),
      new R("plain"),
      new R(null, { status: 204, headers: { "x-empty": "yes" } }),
      new R(new Uint8Array([1, 2, 3]), { headers: { "content-type": "application/octet-stream", "content-length": "3", connection: "close" } }),
    ];
  };
  const normalize = async (res: Response): Promise<{ status: number; headers: string[]; body: string | null; stream: boolean }> => {
    const p = await responseParts(res);
    const pairs: string[] = [];
    // "text/plain; charset=UTF-8" (node-server's default) and "text/plain;charset=UTF-8" (undici's) are the same type.
    for (let i = 0; i < p.headers.length; i += 2) pairs.push(`${p.headers[i]}: ${p.headers[i] === "content-type" ? p.headers[i + 1]?.replace(/;\s*/g, ";") : p.headers[i + 1]}`);
    const stream = p.body !== null && !(p.body instanceof Uint8Array);
    const body = p.body === null ? null : p.body instanceof Uint8Array ? Buffer.from(p.body).toString("latin1") : await new NativeResponse(p.body).text();
    return { status: p.status, headers: pairs.sort(), body, stream };
  };
  const light = make(Response);
  const native = make(NativeResponse);
  t.not(Response, NativeResponse, "the lightweight Response is installed");
  for (let i = 0; i < light.length; i++) {
    const a = await normalize(light[i]!);
    const b = await normalize(native[i]!);
    t.false(a.stream, `case ${i}: the lightweight Response's body is read from its cache, not streamed`);
    t.deepEqual({ ...a, stream: false }, { ...b, stream: false }, `case ${i}`);
  }
  const cookies = await normalize(light[1]!);
  t.deepEqual(cookies.headers.filter((h) => h.startsWith("set-cookie")), ["set-cookie: a=1; Path=/", "set-cookie: b=2; Path=/"], "set-cookie headers stay separate");
  t.false(cookies.headers.some((h) => h.startsWith("content-length") || h.startsWith("connection")), "the forwarder sets its own length and connection");
  const streamed = new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("a")), c.enqueue(new TextEncoder().encode("b")), c.close()) }));
  const s = await normalize(streamed);
  t.true(s.stream, "a stream body stays a stream");
  t.is(s.body, "ab");
});

test("a FramedRequest's body is exactly its bytes, also when the frame's body is a view of a pooled Buffer", async (t) => {
  const pooled = Buffer.from("xxhelloyy").subarray(2, 7); // shares a pool with other buffers
  const r = new FramedRequest("POST", "http://h/", [], pooled);
  const ab = await r.arrayBuffer();
  t.is(ab.byteLength, 5);
  t.is(Buffer.from(ab).toString(), "hello");
  const empty = new FramedRequest("POST", "http://h/", [], Buffer.alloc(0));
  t.is((await empty.arrayBuffer()).byteLength, 0);
  t.is((await new FramedRequest("POST", "http://h/", [], pooled).bytes()).length, 5);
});
