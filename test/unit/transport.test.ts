import test from "ava";
import { ActorHandlerError, ArityError, DeadlineExceededError, defineActor, MalformedMessageError, NodeUnreachableError, PayloadTooLargeError } from "berth";
import { createTestNode } from "berth/testing";
import { InProcessNetwork } from "../../framework/src/transport/InProcessTransport.js";
import { sendCall, serveCalls, type RpcCounters } from "../../framework/src/transport/rpc.js";
import { decodeCallReply, decodeCallRequest, encodeCallRequest, type CallRequest } from "../../framework/src/transport/wire.js";

const Cart = defineActor("cart", {
  state: () => ({ items: new Map<string, { qty: number; at: Date }>() }),
  handlers: {
    add(ctx, sku: string, qty: number, at: Date) {
      if (qty <= 0) throw new RangeError("qty must be positive");
      ctx.state.items.set(sku, { qty, at });
      return ctx.state.items;
    },
  },
});

function request(overrides: Partial<CallRequest> = {}): CallRequest {
  return { callId: "c1", actorType: "cart", actorId: "s1", method: "add", args: ["apple", 2, new Date(0)], ttlMs: 1000, epoch: 1, from: "a", ...overrides };
}

test("in-process transport: request/reply, unknown target, isolation", async (t) => {
  const net = new InProcessNetwork();
  const a = net.connect("a");
  const b = net.connect("b");
  b.serve((req, respond) => respond(new Uint8Array([...req, 9])));
  t.deepEqual([...(await a.request("b", new Uint8Array([1, 2]), 1000))], [1, 2, 9]);
  await t.throwsAsync(a.request("nobody", new Uint8Array(), 1000), { instanceOf: NodeUnreachableError });
  net.isolate("b");
  await t.throwsAsync(a.request("b", new Uint8Array([1]), 50), { instanceOf: DeadlineExceededError });
  net.heal("b");
  t.is((await a.request("b", new Uint8Array([1]), 1000)).length, 2);
  await b.close();
  await t.throwsAsync(a.request("b", new Uint8Array(), 1000), { instanceOf: NodeUnreachableError });
});

test("in-process transport: topics reach every subscriber", async (t) => {
  const net = new InProcessNetwork();
  const a = net.connect("a");
  const b = net.connect("b");
  const got: string[] = [];
  const done = new Promise<void>((resolve) => {
    b.subscribe("hb", (p) => {
      got.push(`b:${p[0]}`);
      if (got.length === 2) resolve();
    });
    a.subscribe("hb", (p) => {
      got.push(`a:${p[0]}`);
      if (got.length === 2) resolve();
    });
  });
  a.publish("hb", new Uint8Array([7]));
  await done;
  t.deepEqual(got.sort(), ["a:7", "b:7"]);
});

test("wire: a call round-trips with rich arguments", (t) => {
  const decoded = decodeCallRequest(encodeCallRequest(request()));
  t.deepEqual(decoded, request());
  t.true(decoded.args[2] instanceof Date);
});

test("wire: malformed, truncated, oversized and wrongly-typed calls are refused with a reason", (t) => {
  const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
  const good = new TextDecoder().decode(encodeCallRequest(request()));
  const bad: Array<[Uint8Array, RegExp, new (...args: never[]) => Error]> = [
    [new Uint8Array([0xff, 0xfe, 0x00]), /not valid UTF-8/, MalformedMessageError],
    [enc("{}"), /does not start with C1/, MalformedMessageError],
    [enc("C2" + good.slice(2)), /does not start with C1/, MalformedMessageError],
    [enc(good.slice(0, 12)), /truncated|missing/, MalformedMessageError],
    [enc(good.slice(0, good.length - 3)), /not valid JSON/, MalformedMessageError],
    [enc("C10:"), /call id must be a string of 1 to 64/, MalformedMessageError],
    [enc("C1x:abc"), /non-negative integer/, MalformedMessageError],
    [enc(`C12:c13:log300:${"x".repeat(300)}`), /actor id length must be at most 256/, MalformedMessageError],
    [enc(`C12:c13:log1:k6:append1:f-5:1:j["t"]`), /ttl/, MalformedMessageError],
    [enc(`C12:c13:log1:k6:append1:f1000:1:j"not-an-array"`), /arguments must be an array/, MalformedMessageError],
    [enc(`C12:c13:log1:k6:append1:f1000:1:s{"json":["t"],"meta":{"values":{"0":["class","Evil"]}}}`), /could not be decoded/, MalformedMessageError],
    [enc(`C12:c13:log1:k6:append1:f1000:1:q[]`), /unknown encoding/, MalformedMessageError],
    [new Uint8Array(2_000_000), /exceeds the limit/, PayloadTooLargeError],
  ];
  for (const [bytes, message, cls] of bad) t.throws(() => decodeCallRequest(bytes), { instanceOf: cls, message });
});

test("wire: values that are not plain JSON still round-trip", (t) => {
  const args = [new Map([["a", new Set([1n])]]), undefined, Number.NaN, -0, { d: new Date(5) }, [1, undefined, 3]];
  const decoded = decodeCallRequest(encodeCallRequest(request({ args })));
  t.deepEqual(decoded.args, args);
  t.true(Object.is(decoded.args[3], -0));
});

test("calls over the transport reach the actor; remote errors arrive as their own classes", async (t) => {
  const net = new InProcessNetwork();
  const node = await createTestNode({ actors: [Cart] });
  const server = net.connect("b");
  const counters: RpcCounters = { served: 0, malformed: 0, control: 0 };
  serveCalls(server, (req) => node.dispatch(req.actorType, req.actorId, req.method, req.args, Date.now() + req.ttlMs), { log: node.log, counters });
  const client = net.connect("a");

  const items = (await sendCall(client, "b", request())) as Map<string, { qty: number; at: Date }>;
  t.true(items instanceof Map);
  t.true(items.get("apple")?.at instanceof Date);

  const handlerError = await t.throwsAsync(sendCall(client, "b", request({ callId: "c2", args: ["pear", 0, new Date()] })));
  t.true(handlerError instanceof ActorHandlerError, `got ${String(handlerError)}`);
  t.is((handlerError as ActorHandlerError).errorName, "RangeError");
  t.is((handlerError as ActorHandlerError).handler, "add");
  t.is(handlerError?.message, "qty must be positive");

  const arity = await t.throwsAsync(sendCall(client, "b", request({ callId: "c3", args: [] })));
  t.true(arity instanceof ArityError);

  // Garbage gets an error reply and is counted; the node keeps serving.
  const reply = await client.request("b", new TextEncoder().encode("garbage"), 1000);
  t.throws(() => decodeCallReply(new TextEncoder().encode("R1x")), { instanceOf: MalformedMessageError });
  t.throws(() => decodeCallReply(reply), { instanceOf: MalformedMessageError });
  t.is(counters.malformed, 1);
  t.is(((await sendCall(client, "b", request({ callId: "c4", args: ["kiwi", 1, new Date()] }))) as Map<string, unknown>).size, 2);
  await node.stop();
});
