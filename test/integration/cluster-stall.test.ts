import test from "ava";
import { createNode } from "berth";
import { LogSyncBackup } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor } from "../helpers/nodeProcess.js";

/**
 * Every worker stalls past its lease at once (`SIGSTOP` of all of them: a paused VM, a host
 * swapping). The leader declares them all down, and each finds itself removed from the view
 * when it wakes. A node removed while alive used to drop everything it held and rejoin empty:
 * here that lost every session. It now keeps what it held as stale copies, which a recovery
 * uses where no current copy is left (BackupStore.demote).
 */
const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

test.serial("all workers SIGSTOPped beyond their lease, then resumed: every acknowledged write is still there", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const workers = await Promise.all(["z1", "z2"].map((id) => spawnNode({ app: "test/fixtures/log-app", urls: nats.urls, cluster, id, env: { BERTH_LOG_LEVEL: "info" } })));
  const gw = await createNode({ actors: [LogSyncBackup], nats: { servers: nats.urls }, cluster, id: "gw", roles: ["gateway"], logger: "silent" });
  t.teardown(() => gw.stop());
  await waitFor(() => gw.view.members.filter((m) => m.roles.includes("worker")).length === 2, 15_000, "two workers");
  await new Promise((r) => setTimeout(r, 1_000));
  const ids = Array.from({ length: 100 }, (_, i) => `stall-${i}`);
  const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (let round = 0; round < 10; round++) {
    await Promise.all(ids.map(async (id) => {
      await gw.ref(LogSyncBackup, id).append(`${id}:${round}`);
      acked.get(id)?.push(`${id}:${round}`);
    }));
  }
  for (const w of workers) w.signal("SIGSTOP");
  await waitFor(() => !gw.view.members.some((m) => m.roles.includes("worker")), 15_000, "every worker declared down");
  for (const w of workers) w.signal("SIGCONT");
  await waitFor(() => gw.view.members.filter((m) => m.roles.includes("worker")).length === 2, 20_000, "both workers back in the view");
  let lost = 0;
  for (const id of ids) {
    const tokens = await gw.ref(LogSyncBackup, id).tokens();
    for (const tk of acked.get(id) ?? []) if (!tokens.includes(tk)) lost++;
    t.deepEqual(tokens, acked.get(id), `${id}: every acknowledged write, once, in order`);
  }
  t.log(`${ids.length * 10} writes acknowledged before the stall, ${lost} lost`);
  const logs = workers.map((w) => w.output()).join("\n");
  t.regex(logs, /removed from the view while alive/, "the workers were removed while alive");
});
