import test from "ava";
import { createNode } from "berth";
import { Log } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor } from "../helpers/nodeProcess.js";

/**
 * Two `berth node` processes given the same id. Before, the second took the first's place in
 * the view, the first took it back, and so on (10,000 view changes in 5 s), and the sessions
 * the first held were dropped. Now the second refuses to start, naming the running one.
 */
const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

test("a second berth node with a running node's id exits with a clear error; the running node keeps its place and its sessions", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const first = await spawnNode({ app: "test/fixtures/log-app", urls: [...nats.urls], cluster, id: "b" });
  const gateway = await createNode({ actors: [Log], nats: { servers: [...nats.urls] }, cluster, id: "gw", roles: ["gateway"], logger: "error" });
  t.teardown(() => gateway.stop());
  await waitFor(() => gateway.view.members.some((m) => m.id === "b"), 10_000, "b in the view");
  const sessions = ["m1", "t1", "t2"];
  for (const s of sessions) await gateway.ref(Log, s).append(`${s}-kept`);
  const epoch = gateway.view.epoch;

  const error = await spawnNode({ app: "test/fixtures/log-app", urls: [...nats.urls], cluster, id: "b" }).then(
    () => null,
    (e: Error) => e,
  );
  t.truthy(error, "the second process did not start");
  t.regex(error?.message ?? "", /exited with 1 before joining/);
  t.regex(error?.message ?? "", new RegExp(`node id "b" is in use by a running node \\(pid ${first.pid} on [^)]+\\): give every node its own id`));

  await new Promise((r) => setTimeout(r, 2_000));
  t.is(gateway.view.epoch, epoch, "the view never changed");
  t.is(first.child.exitCode, null, "the first process runs on");
  for (const s of sessions) t.deepEqual(await gateway.ref(Log, s).tokens(), [`${s}-kept`], `${s} kept its state`);
  t.regex(first.output(), /another process uses this node's id; it must not join/);
});
