import test from "ava";
import { createNode, ReplicationError, type ClusterNode, DeadlineExceededError } from "berth";
import { LogSyncBackup } from "../fixtures/log-app/app.js";
import { settled } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";

/**
 * A retried call is answered from its recorded outcome only once the turn is as durable as its
 * policy promises. The bug this guards against: a sync({ backups: 1 }) turn whose backup did not
 * confirm (the attempt timed out after 2.5 s) was retried with the same call id, and the retry
 * was answered from the owner's outcome record at once — an acknowledgement no backup held.
 */

const nats = natsForFile("single");

test("a retry of a sync write whose backup has not confirmed waits for it, and is never acknowledged without it", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  const mk = async (id: string, role: "worker" | "gateway"): Promise<ClusterNode> => {
    const n = await createNode({ actors: [LogSyncBackup], nats: { servers: nats.urls }, cluster, id, roles: [role], logger: "error", callTimeout: "9s" });
    nodes.push(n);
    return n;
  };
  const a = await mk("a", "worker");
  const b = await mk("b", "worker");
  const gw = await mk("gw", "gateway");
  await settled(nodes);
  // An actor owned by a, backed up by b (with two workers, each backs up the other).
  let id = "";
  for (let i = 0; ; i++) {
    id = `s${i}`;
    if (gw.locate(id).owner === "a") break;
  }
  t.is(await gw.ref(LogSyncBackup, id).append("t0"), 1);

  // b refuses every replication batch (it stays a member and the backup; everything else works).
  const apply = b.backups.apply.bind(b.backups);
  b.backups.apply = () => {
    throw new Error("replication stalled by the test");
  };

  const started = Date.now();
  const err = await t.throwsAsync(gw.ref(LogSyncBackup, id).append("t1"));
  t.true(err instanceof ReplicationError || err instanceof DeadlineExceededError, `${err?.name}: ${err?.message}`);
  t.true(Date.now() - started > 4_000, "it was retried, not refused at once");
  t.true(a.stats().duplicateCalls >= 1, `a retry reached the owner and was recognised (${a.stats().duplicateCalls})`);

  // b applies again: the next write is acknowledged, and b's copy holds every acknowledged write.
  b.backups.apply = apply;
  const count = await gw.ref(LogSyncBackup, id).append("t2");
  const tokens = await gw.ref(LogSyncBackup, id).tokens();
  t.is(count, tokens.length);
  t.deepEqual(tokens.filter((x) => x !== "t1"), ["t0", "t2"], "t1 ran at most once (its outcome was never acknowledged)");
  const copy = b.backups.entries(a.partitionTable.partitions > 0 ? gw.locate(id).partition : 0).find((e) => e.id === id);
  t.deepEqual((copy?.record.state as { tokens: string[] } | undefined)?.tokens, tokens, "the backup holds what the owner acknowledged");
});
