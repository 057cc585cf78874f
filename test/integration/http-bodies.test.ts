import test from "ava";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import { pino } from "pino";
import { defineActor } from "berth";
import { createHttpNode, defineHttp, type HttpNode } from "berth/http";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { settled } from "../helpers/cluster.js";

/**
 * Bodies of every size through a gateway: small ones travel to the owner over NATS in one
 * message, large and chunked request bodies over HTTP, streamed; a large response body comes
 * back in chunks the gateway pulls. Every byte must arrive, in order, whatever the path.
 */

const Visits = defineActor("visits", {
  state: () => ({ n: 0 }),
  handlers: { hit: (ctx) => ++ctx.state.n },
});

const app = defineHttp((r) => {
  r.post("/echo", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const n = await c.var.session(Visits).hit();
    return c.json({ bytes: body.length, sha: createHash("sha256").update(body).digest("hex"), n, node: c.var.nodeId });
  });
  r.get("/big", (c) => {
    const size = Number(c.req.query("size"));
    const chunk = 64 * 1024;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent >= size) return ctrl.close();
        const n = Math.min(chunk, size - sent);
        const part = new Uint8Array(n);
        for (let i = 0; i < n; i++) part[i] = (sent + i) % 251;
        sent += n;
        ctrl.enqueue(part);
      },
    });
    return c.body(stream, 200, { "content-type": "application/octet-stream" });
  });
}, { bodyLimit: 8 * 1024 * 1024 });

const nats = natsForFile("single");

test("small, large and chunked request bodies and a streamed 5 MB response, through a gateway", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const secrets = [randomBytes(32).toString("hex")];
  const nodes: HttpNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  for (const id of ["w1", "w2"]) nodes.push(await createHttpNode({ actors: [Visits], nats: { servers: nats.urls }, cluster, id, logger: "error", http: { app, secrets } }));
  const gw = await createHttpNode({ actors: [Visits], nats: { servers: nats.urls }, cluster, id: "gw", roles: ["gateway"], logger: "error", http: { secrets } });
  nodes.push(gw);
  await settled(nodes.map((n) => n.node));

  let cookie: string | undefined;
  let visits = 0;
  for (const size of [0, 10, 60_000, 300_000, 3_000_000]) {
    const body = randomBytes(size);
    const res = await fetch(`${gw.url}/echo`, { method: "POST", headers: { "content-type": "application/octet-stream", ...(cookie ? { cookie } : {}) }, body });
    cookie ??= res.headers.get("set-cookie")?.split(";")[0];
    t.is(res.status, 200, `${size} bytes`);
    const answer = (await res.json()) as { bytes: number; sha: string; n: number; node: string };
    t.is(answer.bytes, size);
    t.is(answer.sha, createHash("sha256").update(body).digest("hex"), `${size} bytes arrived intact`);
    t.is(answer.n, ++visits, "the same session every time");
    t.is(res.headers.get("x-berth-node"), answer.node);
  }
  // Chunked (no Content-Length): streamed over HTTP.
  const parts = [randomBytes(100_000), randomBytes(700_000), randomBytes(5)];
  const stream = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      const p = parts.shift();
      if (p === undefined) ctrl.close();
      else ctrl.enqueue(p);
    },
  });
  const all = Buffer.concat([parts[0]!, parts[1]!, parts[2]!]);
  const chunked = await fetch(`${gw.url}/echo`, { method: "POST", headers: { "content-type": "application/octet-stream", cookie: cookie as string }, body: stream, duplex: "half" } as RequestInit);
  const c = (await chunked.json()) as { bytes: number; sha: string; n: number };
  t.deepEqual({ bytes: c.bytes, sha: c.sha, n: c.n }, { bytes: all.length, sha: createHash("sha256").update(all).digest("hex"), n: ++visits });

  // A 5 MB streamed response comes back whole and in order.
  const big = await fetch(`${gw.url}/big?size=5000000`, { headers: { cookie: cookie as string } });
  t.is(big.status, 200);
  const got = new Uint8Array(await big.arrayBuffer());
  t.is(got.length, 5_000_000);
  let wrong = -1;
  for (let i = 0; i < got.length; i++) if (got[i] !== i % 251) { wrong = i; break; }
  t.is(wrong, -1, "every byte in order");
  t.true(gw.handler.stats().forwarded >= 7, "the gateway forwarded every request");
});

test("a client that closes its connection mid-body costs an error line nowhere, and the node serves on", async (t) => {
  t.timeout(30_000);
  const cluster = uniqueCluster();
  const secrets = [randomBytes(32).toString("hex")];
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  const node = await createHttpNode({ actors: [Visits], nats: { servers: nats.urls }, cluster, id: "w1", logger, http: { app, secrets } });
  t.teardown(() => node.stop());
  await settled([node.node]);
  const { hostname, port } = new URL(node.url);
  for (let i = 0; i < 5; i++) {
    // Headers promise 100 kB; 10 kB arrive; then the client is gone.
    await new Promise<void>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        socket.write(`POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 100000\r\n\r\n`);
        socket.write(Buffer.alloc(10_000, 1), () => setTimeout(() => (socket.destroy(), resolve()), 100));
      });
      socket.on("error", () => resolve());
    });
  }
  await new Promise((r) => setTimeout(r, 300));
  const res = await fetch(`${node.url}/echo`, { method: "POST", body: "ok" });
  t.is(res.status, 200, "the node still serves");
  const errors = lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  t.deepEqual(errors, [], "no error line for a client that went away");
});
