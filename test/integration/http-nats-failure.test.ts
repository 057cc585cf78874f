import test from "ava";
import { randomBytes } from "node:crypto";
import { createHttpNode, type HttpNode } from "berth/http";
import { heldCounterApp } from "../helpers/heldRoutes.js";
import { startTestNats, uniqueCluster, type TestNats } from "../helpers/nats.js";
import { settled } from "../helpers/cluster.js";

/**
 * A NATS server dies under forwarded HTTP requests: what was passing through it is lost. A GET
 * is sent again at once; a POST whose reply was lost answers 502 (it may have run) and is
 * never run twice. Before, a request whose reply was lost waited for `responseTimeout` (35 s)
 * and answered 504, GET or not.
 */

/**
 * The worker holds the requests it has when the server dies until well after every connection
 * moved (its relink notice reaches the gateway first): their replies are lost to the gateway,
 * deterministically. Requests that arrive later are answered at once.
 */
const { Counter, app, hold } = heldCounterApp();

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

  hold.armed = false; // the sessions' first writes run at once
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
  const get = async (s: (typeof sessions)[number]): Promise<void> => {
    const res = await fetch(`${gw.url}/n`, { headers: { cookie: s.cookie } });
    if (res.status !== 200) getFailures.push(`${res.status} ${await res.text()}`);
    else await res.text();
  };
  const post = async (s: (typeof sessions)[number], i: number): Promise<void> => {
    const res = await fetch(`${gw.url}/add`, { method: "POST", headers: { cookie: s.cookie } });
    postAnswers.set(res.status, (postAnswers.get(res.status) ?? 0) + 1);
    const body = await res.text();
    if (res.status === 200) s.added++;
    else if (res.status === 502 && /may or may not have been applied/.test(body)) s.uncertain++;
    else getFailures.push(`POST of session ${i}: ${res.status} ${body}`);
  };
  // Half the sessions start with a GET, half with a POST: both kinds are held when the server dies.
  const loops = sessions.map(async (s, i) => {
    while (running) {
      if (i % 2 === 0) {
        await get(s);
        await post(s, i);
      } else {
        await post(s, i);
        await get(s);
      }
    }
  });
  hold.armed = true;
  const waitUntil = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise((r) => setTimeout(r, 10));
  };
  await waitUntil(() => hold.gets > 0); // at least one GET is held on the worker
  await new Promise((r) => setTimeout(r, 100)); // and every loop is waiting on one request
  const retriesBefore = gw.handler.stats().retries;
  nats.servers[0]?.kill("SIGKILL");
  hold.armed = false; // requests after the kill are answered at once
  await new Promise((r) => setTimeout(r, 1_500));
  hold.release(); // the held requests' replies now go to a gateway that gave up on them
  await new Promise((r) => setTimeout(r, 1_500));
  running = false;
  await Promise.all(loops);

  t.deepEqual(getFailures, [], "every GET answered 200, every POST 200 or 502 'may or may not have been applied'");
  t.true(gw.handler.stats().retries > retriesBefore, "requests whose replies were lost were sent again");
  t.true(sessions.some((s) => s.uncertain > 0), "a POST whose reply was lost was answered 502 at once, not retried");
  // No POST ran twice: each session's count is what it was told, plus at most its uncertain ones.
  for (const s of sessions) {
    const res = await fetch(`${gw.url}/n`, { headers: { cookie: s.cookie } });
    const { n } = (await res.json()) as { n: number };
    t.true(n >= s.added && n <= s.added + s.uncertain, `count ${n}, acknowledged ${s.added}, uncertain ${s.uncertain}`);
  }
  t.log(`POST answers: ${JSON.stringify(Object.fromEntries(postAnswers))}; GET and POST retries after the kill: ${gw.handler.stats().retries - retriesBefore}`);
  await nats.servers[0]?.restart();
});
