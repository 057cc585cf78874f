import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createNode, type ClusterNode } from "berth";
import { LogSyncBackup } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";
import { readStatus } from "../../framework/src/cli/statusCommand.js";

/**
 * The view lives in a JetStream KV bucket; on nats-server before 2.9.21 (this machine's 2.9.10)
 * it has one replica, so view changes wait while the server holding it is down. They must
 * resume when it is back: a node that died meanwhile is removed then, without anything else
 * having to change the view first. (Before the fix, the failed removal was never proposed
 * again: its sessions answered 503 until some other node joined.)
 */
const nats = natsForFile("cluster");

test.serial("a node that died while the view's NATS server was down is removed once that server is back, and its sessions are served", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const stream = `KV_berth_${cluster}_view`;
  const nodes: ClusterNode[] = [];
  t.teardown(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
  });
  for (const id of ["w1", "w2", "w3"]) nodes.push(await createNode({ actors: [LogSyncBackup], nats: { servers: [...nats.urls] }, cluster, id, logger: "error" }));
  const [w1, , w3] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  await waitFor(() => nodes.every((n) => n.view.members.length === 3), 15_000, "three members");

  // Where the view lives: the stream's leader (its only server when it has one replica).
  const nc = await connect({ servers: [...nats.urls] });
  t.teardown(() => nc.close());
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  const replicas = info.config.num_replicas;
  const holder = nats.servers.find((s) => s.name === info.cluster?.leader);
  if (holder === undefined) throw new Error(`no server leads ${stream}: ${JSON.stringify(info.cluster)}`);
  t.log(`${stream}: ${replicas} replica(s), led by ${holder.name}`);

  // Sessions the victim owns, written before.
  const sessions = Array.from({ length: 300 }, (_, i) => `s${i}`).filter((s) => w1.locate(s).owner === "w3").slice(0, 20);
  t.true(sessions.length > 0);
  for (const s of sessions) await w1.ref(LogSyncBackup, s).append("before");

  holder.kill("SIGKILL");
  await w3.crash();
  nodes.splice(2, 1);
  // Longer than the failure detection (~1.8 s) and several reconciles.
  await new Promise((r) => setTimeout(r, 5_000));
  if (replicas === 1) {
    t.true(w1.view.members.some((m) => m.id === "w3"), "with one replica the removal waits for the view's server");
    // `berth status` says what is going on instead of a bare "timeout".
    const live = nats.servers.filter((s) => s !== holder).map((s) => s.url);
    await t.throwsAsync(readStatus(live, cluster), { message: /connected to NATS, but cluster ".*"'s view and node records did not answer .*a NATS server holding them may be down/ });
  }

  const restartedAt = Date.now();
  await holder.restart();
  const took = await waitFor(() => nodes.every((n) => !n.view.members.some((m) => m.id === "w3")), 20_000, "the dead node to be removed from the view");
  t.log(`removed ${Date.now() - restartedAt} ms after the server was back (${took} ms of waiting)`);
  for (const s of sessions) t.deepEqual(await w1.ref(LogSyncBackup, s).tokens(), ["before"], `${s} is served by a survivor`);
});
