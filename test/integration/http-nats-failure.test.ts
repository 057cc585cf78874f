import test from "ava";
import { randomBytes } from "node:crypto";
import { defineActor } from "berth";
import { createHttpNode, defineHttp, type HttpNode } from "berth/http";
import { startTestNats, uniqueCluster, type TestNats } from "../helpers/nats.js";
import { settled } from "../helpers/cluster.js";

/**
 * A NATS server dies under forwarded HTTP requests: what was passing through it is lost. A GET
 * is sent again at once; a POST whose reply was lost answers 502 (it may have run) and is
 * never run twice. Before, a request whose reply was lost waited for `responseTimeout` (35 s)
 * and answered 504, GET or not.
 */

const Counter = defineActor("counter", {
  state: () => ({ n: 0 }),
  handlers: { add: (ctx) => ++ctx.state.n, get: (ctx) => ctx.state.n },
});

const app = defineHttp((r) => {
  // Slow enough that requests are always waiting on the worker when the server dies.
  r.get("/n", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    return c.json({ n: await c.var.session(Counter).get() });
  });
  r.post("/add", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    return c.json({ n: await c.var.session(Counter).add() });
  });
});

let nats: TestNats;
test.before(async () => {
  nats = await startTestNats("cluster");
});
test.after.always(async () => {
  await nats?.stop();
});

test.serial("when a NATS server dies under forwarded requests, GETs are answered by a retry and no POST runs twice", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const secrets = [randomBytes(32).toString("hex")];
  const nodes: HttpNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  const [s0, s1, s2] = nats.urls as [string, string, string];
  // The worker starts on server 0 (it learns the others from it); the gateway never uses it.
  nodes.push(await createHttpNode({ actors: [Counter], nats: { servers: [s0] }, cluster, id: "w1", logger: "error", http: { app, secrets } }));
  const gw = await createHttpNode({ actors: [Counter], nats: { servers: [s1, s2] }, cluster, id: "gw", roles: ["gateway"], logger: "error", http: { secrets } });
  nodes.push(gw);
  await settled(nodes.map((n) => n.node));

  const sessions = await Promise.all(
    Array.from({ length: 16 }, async () => {
      const res = await fetch(`${gw.url}/add`, { method: "POST" });
      t.is(res.status, 200);
      return { cookie: res.headers.get("set-cookie")?.split(";")[0] ?? "", added: 1, uncertain: 0 };
    }),
  );
  const getFailures: string[] = [];
  const postAnswers = new Map<number, number>();
  let running = true;
  const loops = sessions.map(async (s, i) => {
    while (running) {
      const get = await fetch(`${gw.url}/n`, { headers: { cookie: s.cookie } });
      if (get.status !== 200) getFailures.push(`${get.status} ${await get.text()}`);
      else await get.text();
      const post = await fetch(`${gw.url}/add`, { method: "POST", headers: { cookie: s.cookie } });
      postAnswers.set(post.status, (postAnswers.get(post.status) ?? 0) + 1);
      const body = await post.text();
      if (post.status === 200) s.added++;
      else if (post.status === 502 && /may or may not have been applied/.test(body)) s.uncertain++;
      else getFailures.push(`POST of session ${i}: ${post.status} ${body}`);
    }
  });
  await new Promise((r) => setTimeout(r, 1_000));
  const retriesBefore = gw.handler.stats().retries;
  nats.servers[0]?.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, 3_000));
  running = false;
  await Promise.all(loops);

  t.deepEqual(getFailures, [], "every GET answered 200, every POST 200 or 502 'may or may not have been applied'");
  t.true(gw.handler.stats().retries > retriesBefore, "requests whose replies were lost were sent again");
  // No POST ran twice: each session's count is what it was told, plus at most its uncertain ones.
  for (const s of sessions) {
    const res = await fetch(`${gw.url}/n`, { headers: { cookie: s.cookie } });
    const { n } = (await res.json()) as { n: number };
    t.true(n >= s.added && n <= s.added + s.uncertain, `count ${n}, acknowledged ${s.added}, uncertain ${s.uncertain}`);
  }
  t.log(`POST answers: ${JSON.stringify(Object.fromEntries(postAnswers))}; GET and POST retries after the kill: ${gw.handler.stats().retries - retriesBefore}`);
  await nats.servers[0]?.restart();
});
