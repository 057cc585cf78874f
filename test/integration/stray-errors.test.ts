import test from "ava";
import { createNode } from "berth";
import { Stray } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor } from "../helpers/nodeProcess.js";

/**
 * A handler that lets an error escape its turn — an unawaited rejection, a throw in a callback —
 * must not end its node (Node's default), or the retried call ends the next owner too, and so on
 * through the cluster. `berth node` logs it and keeps serving.
 */
const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

test.serial("berth node survives a handler's unawaited rejection and a throw in its callback, logs them, and keeps serving", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const workers = [await spawnNode({ app: "test/fixtures/log-app", urls: nats.urls, cluster, id: "s1" }), await spawnNode({ app: "test/fixtures/log-app", urls: nats.urls, cluster, id: "s2" })];
  const gw = await createNode({ actors: [Stray], nats: { servers: nats.urls }, cluster, id: "gw", roles: ["gateway"], logger: "silent" });
  t.teardown(() => gw.stop());
  await waitFor(() => gw.view.members.filter((m) => m.roles.includes("worker")).length === 2, 10_000, "two workers");
  const ids = Array.from({ length: 8 }, (_, i) => `stray-${i}`); // on both workers
  for (const id of ids) {
    t.is(await gw.ref(Stray, id).rejectLater(), 1);
    t.is(await gw.ref(Stray, id).throwLater(), 2);
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const w of workers) t.is(w.child.exitCode, null, `${w.id} still runs`);
  for (const id of ids) t.is(await gw.ref(Stray, id).n(), 2, "each call ran once and its state stayed");
  const logs = workers.map((w) => w.output()).join("\n");
  t.regex(logs, /an error escaped an actor's turn/);
  t.regex(logs, /a rejection nobody awaited/);
  t.regex(logs, /a throw in a callback/);
});
