import test from "ava";
import { randomBytes } from "node:crypto";
import { createHttpNode, type HttpNode } from "berth/http";
import { processState } from "../../framework/src/harness/processes.js";
import { heldCounterApp } from "../helpers/heldRoutes.js";
import { waitFor } from "../helpers/nodeProcess.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { settled } from "../helpers/cluster.js";

/**
 * Nodes cut off from NATS (here: their one server is paused with SIGSTOP) can neither serve a
 * session nor forward to its owner. Before, they held every HTTP request until a timeout (30 s
 * to forward, 35 s for an answer) and then answered 503 or 504: the client could not try another
 * node meanwhile. Now, once a node's membership lease lapses (1 s), new requests are answered
 * 503 with `retry-after` at once, and a forwarded POST in flight is answered 502 "may or may not
 * have been applied" at once (a GET in flight gets the 503).
 */

const { Counter, app, hold } = heldCounterApp({ holds: (nodeId) => nodeId === "w1" });
const nats = natsForFile("single");

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly retryAfter: string | null;
  readonly body: { error?: string; n?: number };
}

async function call(base: string, method: "GET" | "POST", path: string, cookie: string): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, { method, headers: { cookie }, signal: AbortSignal.timeout(60_000) });
  const body = (await res.json()) as Answer["body"];
  return { status: res.status, ms: performance.now() - t0, retryAfter: res.headers.get("retry-after"), body };
}

test.serial("nodes out of touch with NATS answer at once: 503 with retry-after for new requests, 502 for a forwarded POST in flight", async (t) => {
  t.timeout(120_000);
  const server = nats.servers[0];
  if (server === undefined) throw new Error("no NATS server");
  const cluster = uniqueCluster();
  const secrets = [randomBytes(32).toString("hex")];
  const nodes: HttpNode[] = [];
  t.teardown(async () => {
    if (processState(server.pid) === "T") server.kill("SIGCONT");
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  });
  const w1 = await createHttpNode({ actors: [Counter], nats: { servers: [...nats.urls] }, cluster, id: "w1", logger: "error", http: { app, secrets } });
  nodes.push(w1);
  const gw = await createHttpNode({ actors: [Counter], nats: { servers: [...nats.urls] }, cluster, id: "gw", roles: ["gateway"], logger: "error", http: { secrets } });
  nodes.push(gw);
  await settled(nodes.map((n) => n.node));

  // A session, made through the gateway.
  const first = await fetch(`${gw.url}/add`, { method: "POST" });
  t.is(first.status, 200);
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] as string;
  t.truthy(cookie, "the gateway set the session cookie");

  // A POST forwarded to the worker and held there, then the server pauses under it.
  hold.armed = true;
  const inFlight = call(gw.url, "POST", "/add", cookie);
  await waitFor(() => hold.posts === 1, 10_000, "the POST held on the worker");
  server.kill("SIGSTOP");
  await waitFor(() => processState(server.pid) === "T", 2_000, "the paused server to stop");
  const pausedAt = performance.now();
  const held = await inFlight;
  const heldFor = performance.now() - pausedAt;
  t.is(held.status, 502, JSON.stringify(held.body));
  t.regex(held.body.error ?? "", /lost touch with the cluster.*may or may not have been applied/);
  t.true(heldFor < 5_000, `answered ${Math.round(heldFor)} ms after the pause (the lease is 1 s), not after the 35 s response timeout`);

  // New requests, through either node, once their leases lapsed.
  await waitFor(() => !gw.node.membership.leaseValid() && !w1.node.membership.leaseValid(), 5_000, "both leases to lapse");
  for (const [via, base] of [["gateway", gw.url], ["worker", w1.url]] as const) {
    for (const method of ["GET", "POST"] as const) {
      const a = await call(base, method, method === "GET" ? "/n" : "/add", cookie);
      t.is(a.status, 503, `${method} through the ${via}: ${JSON.stringify(a.body)}`);
      t.is(a.retryAfter, "1");
      t.regex(a.body.error ?? "", /out of touch with the cluster/);
      t.true(a.ms < 1_000, `${method} through the ${via} answered in ${Math.round(a.ms)} ms`);
    }
    const health = await fetch(`${base}/_berth/health`);
    t.is(health.status, 503, `the ${via}'s health check fails too`);
  }
  t.true(gw.handler.stats().outOfTouch >= 2 && w1.handler.stats().outOfTouch >= 2, "counted");
  const metrics = await (await fetch(`${gw.url}/_berth/metrics`)).text();
  t.regex(metrics, /berth_http_out_of_touch_total\{[^}]*\} [2-9]/);

  // The server comes back: the nodes serve again, and the session's count shows what ran.
  server.kill("SIGCONT");
  hold.armed = false;
  hold.release(); // the held POST runs now on the worker; its answer goes to a gateway that gave up on it
  await waitFor(() => gw.node.membership.leaseValid() && w1.node.membership.leaseValid(), 30_000, "both leases back");
  await settled(nodes.map((n) => n.node));
  let after: Answer | undefined;
  await waitFor(
    async () => {
      const a = await call(gw.url, "GET", "/n", cookie);
      if (a.status === 200) after = a;
      return after !== undefined;
    },
    30_000,
    "a GET through the gateway to succeed again",
  );
  if (after === undefined) throw new Error("unreachable: waitFor returned without a 200");
  t.true(after.body.n === 1 || after.body.n === 2, `the first POST ran, the one answered 502 may have: n = ${after.body.n}`);
  const again = await call(gw.url, "POST", "/add", cookie);
  t.is(again.status, 200);
  t.is(again.body.n, (after.body.n ?? 0) + 1, "and writes go on from there");
});
