import test from "ava";
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { defineActor } from "berth";
import { createHttpNode, defineHttp, sessionCookies, type HttpNode } from "berth/http";
import { decodeResponse, encodeRequest, type RequestFrame } from "../../framework/src/http/frames.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { settled } from "../helpers/cluster.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * Forwarding over NATS between real nodes: what a worker does with frames nobody should send it
 * (malformed, misdirected), and requests that keep flowing through a gateway while workers
 * join and leave — every one answered, every write applied exactly once.
 */

const Counter = defineActor("counter", {
  state: () => ({ n: 0 }),
  handlers: { add: (ctx, k: number) => (ctx.state.n += k), get: (ctx) => ctx.state.n },
});

const app = defineHttp((r) => {
  r.post("/add", async (c) => {
    const { k } = (await c.req.json()) as { k: number };
    return c.json({ n: await c.var.session(Counter).add(k), node: c.var.nodeId });
  });
  r.get("/n", async (c) => c.json({ n: await c.var.session(Counter).get(), node: c.var.nodeId }));
});

const nats = natsForFile("single");

test("a worker answers malformed frames 400 and misdirected ones 421, runs nothing for them, and keeps serving", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const secrets = [randomBytes(32).toString("hex")];
  const nodes: HttpNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  for (const id of ["w1", "w2"]) nodes.push(await createHttpNode({ actors: [Counter], nats: { servers: nats.urls }, cluster, id, logger: "error", http: { app, secrets } }));
  await settled(nodes.map((n) => n.node));
  const [w1, w2] = nodes as [HttpNode, HttpNode];
  const nc = await connect({ servers: nats.urls });
  t.teardown(() => nc.close());
  const subject = `berth.${cluster}.http.w1`;
  const ask = async (bytes: Uint8Array) => decodeResponse((await nc.request(subject, bytes, { timeout: 5_000 })).data, 1 << 20);
  const bodyOf = (r: { body: Uint8Array }) => JSON.parse(Buffer.from(r.body).toString()) as { error: string; owner?: string };

  // Garbage, a truncated frame, a frame with a bad method: 400, each counted.
  const cookies = sessionCookies({ secrets });
  const mine = (owner: string): string => {
    for (;;) {
      const id = cookies.newId();
      if (w1.node.locate(id).owner === owner) return id;
    }
  };
  const frame = (id: string, over: Partial<RequestFrame> = {}): RequestFrame => ({
    method: "POST",
    url: "/add",
    epoch: w1.node.view.epoch,
    from: "gw",
    newSession: false,
    headers: ["host", "x", "content-type", "application/json", "cookie", `${cookies.name}=${cookies.sign(id)}`],
    body: Buffer.from('{"k":5}'),
    ...over,
  });
  const good = encodeRequest(frame(mine("w1")));
  for (const bad of [Buffer.from("nonsense"), good.subarray(0, 10), encodeRequest(frame(mine("w1"), { method: "GE T" }))]) {
    const r = await ask(bad);
    t.is(r.status, 400);
    t.regex(bodyOf(r).error, /^malformed forwarded request/);
  }
  t.is(w1.handler.stats().malformed, 3);

  // A well-formed request for a session w1 does not own: 421 with Berth's redirect headers; nothing ran.
  const other = mine("w2");
  const r421 = await ask(encodeRequest(frame(other)));
  t.is(r421.status, 421);
  const h = r421.headers;
  t.is(h[h.indexOf("x-berth-misdirected") + 1], "1");
  t.is(bodyOf(r421).owner, "w2");
  t.true(w1.handler.stats().misdirected >= 1);
  const onOwner = await fetch(`${w2.url}/n`, { headers: { cookie: `${cookies.name}=${cookies.sign(other)}` } });
  t.deepEqual(await onOwner.json(), { n: 0, node: "w2" }, "the misdirected add never ran");

  // A frame for a session w1 owns runs once, answered with the node's id.
  const ok = await ask(good);
  t.is(ok.status, 200);
  t.is(ok.headers[ok.headers.indexOf("x-berth-node") + 1], "w1");
  t.like(JSON.parse(Buffer.from(ok.body).toString()), { n: 5, node: "w1" });
  // And ordinary traffic still flows.
  const res = await fetch(`${w2.url}/add`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"k":1}' });
  t.is(res.status, 200);
});

test("requests through a gateway while a worker joins and another leaves: all answered, each applied exactly once", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const secrets = [randomBytes(32).toString("hex")];
  const nodes: HttpNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  const worker = (id: string) => createHttpNode({ actors: [Counter], nats: { servers: nats.urls }, cluster, id, logger: "error", http: { app, secrets } });
  nodes.push(await worker("w1"), await worker("w2"));
  const gw = await createHttpNode({ actors: [Counter], nats: { servers: nats.urls }, cluster, id: "gw", roles: ["gateway"], logger: "error", http: { secrets } });
  nodes.push(gw);
  await settled(nodes.map((n) => n.node));

  // 24 sessions, each adding 1 in a loop, one request at a time.
  const sessions = Array.from({ length: 24 }, () => ({ cookie: undefined as string | undefined, sent: 0, nodes: new Set<string>() }));
  const failures: string[] = [];
  let running = true;
  const loops = sessions.map(async (s) => {
    while (running) {
      const res = await fetch(`${gw.url}/add`, { method: "POST", headers: { "content-type": "application/json", ...(s.cookie ? { cookie: s.cookie } : {}) }, body: '{"k":1}' });
      const text = await res.text();
      if (res.status !== 200) {
        failures.push(`${res.status} ${text}`);
        continue;
      }
      s.cookie ??= res.headers.get("set-cookie")?.split(";")[0];
      s.sent++;
      const { n, node } = JSON.parse(text) as { n: number; node: string };
      if (n !== s.sent) failures.push(`session expected ${s.sent}, got ${n}`);
      if (res.headers.get("x-berth-node") !== node) failures.push(`x-berth-node ${res.headers.get("x-berth-node")} but ran on ${node}`);
      s.nodes.add(node);
    }
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(500);
  const w3 = await worker("w3"); // partitions move to the new node under load
  nodes.push(w3);
  await settled(nodes.map((n) => n.node)); // the moves to w3 finished
  await sleep(300);
  const w1 = nodes[0] as HttpNode;
  await w1.stop(); // its sessions move to the others, under load
  const rest = nodes.slice(1).map((n) => n.node);
  await waitFor(() => rest.every((n) => !n.view.members.some((m) => m.id === "w1")), 30_000, "w1 to be gone from every view");
  await settled(rest);
  await sleep(300);
  running = false;
  await Promise.all(loops);

  t.deepEqual(failures, [], "every request answered 200 with its exact count");
  const total = sessions.reduce((n, s) => n + s.sent, 0);
  t.true(total > 200, `enough traffic to meet the moves (${total} requests)`);
  t.true(sessions.some((s) => s.nodes.size > 1), "some sessions changed owner during the run");
  // The final counts, read through the gateway, equal what each session was told.
  for (const s of sessions) {
    const res = await fetch(`${gw.url}/n`, { headers: { cookie: s.cookie as string } });
    t.is(((await res.json()) as { n: number }).n, s.sent);
  }
  t.log(`${total} requests; gateway retries ${gw.handler.stats().retries}`);
});
