import test from "ava";
import { createNode, type ClusterNode } from "berth";
import { LogSyncBackup } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { startRelay } from "../helpers/netPartition.js";
import { waitFor } from "../helpers/nodeProcess.js";
import { settled } from "../helpers/cluster.js";

/**
 * A node cut off from NATS (its connection blackholed by a relay, see helpers/netPartition.ts)
 * while a call for one of its own partitions is running through it. Found by the partition
 * test: the call's retry loop found the partition "serving" but the lease lapsed, asked the
 * partition manager to hold — which returns at once for a serving partition — and went round
 * again, in microtasks only: the node's event loop froze at full CPU until the call's deadline
 * (30 s), so it could not renew its lease or even see that the partition had healed.
 */

const nats = natsForFile("single");

test("a call through a node whose lease lapsed waits on timers: its event loop keeps running", async (t) => {
  t.timeout(60_000);
  const server = nats.servers[0];
  if (server === undefined) throw new Error("no NATS server");
  const relay = await startRelay("127.0.0.1", { host: "127.0.0.1", port: server.port });
  const cluster = uniqueCluster();
  const cut = await createNode({ actors: [LogSyncBackup], nats: { servers: [relay.url] }, cluster, id: "a", logger: "silent", callTimeout: "6s" });
  const other = await createNode({ actors: [LogSyncBackup], nats: { servers: nats.urls }, cluster, id: "b", logger: "silent" });
  const nodes: ClusterNode[] = [cut, other];
  t.teardown(async () => {
    relay.heal();
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await relay.close();
  });
  await settled(nodes);
  let k = 0;
  while (cut.locate(`s${k}`).owner !== cut.id) k++;
  const session = `s${k}`;
  await cut.ref(LogSyncBackup, session).append("t0");

  relay.cut();
  await waitFor(() => !cut.membership.leaseValid(), 5_000, "the cut-off node's lease to lapse");
  const call = cut.ref(LogSyncBackup, session).append("t1").then(
    () => "acknowledged",
    (e: unknown) => (e instanceof Error ? e.name : String(e)),
  );
  // The event loop this test shares with the node: how late do 20 ms timers fire, for 2 s?
  let worst = 0;
  for (const until = Date.now() + 2_000; Date.now() < until; ) {
    const at = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    worst = Math.max(worst, Date.now() - at - 20);
  }
  t.log(`worst timer delay while the call waited: ${worst} ms`);
  t.true(worst < 300, `timers fired at most ${worst} ms late`);
  const outcome = await call;
  t.not(outcome, "acknowledged", "a cut-off node acknowledges no sync write");
});
