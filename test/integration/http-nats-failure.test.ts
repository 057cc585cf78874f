import test from "ava";
import { randomBytes } from "node:crypto";
import { createHttpNode, type HttpNode } from "berth/http";
import { counterTraffic, heldCounterApp } from "../helpers/heldRoutes.js";
import { waitFor } from "../helpers/nodeProcess.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
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

const nats = natsForFile("cluster");

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
  // Half the sessions start with a GET, half with a POST: both kinds are held when the server dies.
  const traffic = await counterTraffic(t, gw.url, 16);
  hold.armed = true;
  await waitFor(() => hold.gets > 0, 20_000, "a GET held on the worker");
  await new Promise((r) => setTimeout(r, 100)); // and every loop is waiting on one request
  const retriesBefore = gw.handler.stats().retries;
  nats.servers[0]?.kill("SIGKILL");
  hold.armed = false; // requests after the kill are answered at once
  await new Promise((r) => setTimeout(r, 1_500));
  hold.release(); // the held requests' replies now go to a gateway that gave up on them
  await new Promise((r) => setTimeout(r, 1_500));
  await traffic.stop();

  t.deepEqual(traffic.failures, [], "every GET answered 200, every POST 200 or 502 'may or may not have been applied'");
  t.true(gw.handler.stats().retries > retriesBefore, "requests whose replies were lost were sent again");
  t.true(traffic.sessions.some((s) => s.uncertain > 0), "a POST whose reply was lost was answered 502 at once, not retried");
  await traffic.checkCounts();
  t.log(`answers: ${JSON.stringify(Object.fromEntries(traffic.answers))}; GET and POST retries after the kill: ${gw.handler.stats().retries - retriesBefore}`);
  await nats.servers[0]?.restart();
});
