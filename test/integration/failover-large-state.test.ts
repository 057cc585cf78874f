import test from "ava";
import { createNode } from "berth";
import { Bulky } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor } from "../helpers/nodeProcess.js";

/**
 * A failover where the dead node's actors are large. Each survivor installs its share and sends
 * it in full to the partitions' new backups. Found by a chaos run of the demo cart: that work ran
 * in one burst, a survivor blocked past its lease (~1.2 s), the leader declared it down as well,
 * and one failure became three — the nodes rejoined empty and every cart lost its items. The
 * work now runs in slices of the event loop (time/WorkSlicer.ts), and kept call outcomes are
 * bounded by size. This test guards the outcome (leases kept, actors whole) with 2.2 million
 * small values; it did not reproduce the stall on the code before the fix (the chaos run's
 * carts also kept 64 outcomes each, under HTTP load) — the chaos run is that evidence.
 */
const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

const ACTORS = 360;
const PARTS = 4;
const LINES = 1_500; // 6,000 small objects an actor, 2.2 million in all (and as many in backups)

test.serial("kill -9 of a worker holding large actors: the survivors keep their leases, and every actor is served whole", async (t) => {
  t.timeout(120_000);
  const cluster = uniqueCluster();
  const workers = await Promise.all(["l1", "l2", "l3"].map((id) => spawnNode({ app: "test/fixtures/log-app", urls: nats.urls, cluster, id, env: { BERTH_LOG_LEVEL: "info" } })));
  const gw = await createNode({ actors: [Bulky], nats: { servers: nats.urls }, cluster, id: "gw", roles: ["gateway"], logger: "silent" });
  t.teardown(() => gw.stop());
  await waitFor(() => gw.view.members.filter((m) => m.roles.includes("worker")).length === 3, 15_000, "three workers");
  await new Promise((r) => setTimeout(r, 1_000)); // the first moves settle
  const ids = Array.from({ length: ACTORS }, (_, i) => `bulky-${i}`);
  for (let part = 0; part < PARTS; part++) {
    for (let i = 0; i < ids.length; i += 40) await Promise.all(ids.slice(i, i + 40).map((id) => gw.ref(Bulky, id).grow(LINES)));
  }
  const victim = workers[0]!;
  const owned = ids.filter((id) => gw.locate(id).owner === victim.id);
  t.true(owned.length > ACTORS / 5, `${victim.id} owns ${owned.length} actors`);
  victim.signal("SIGKILL");
  await victim.exited;
  await waitFor(() => !gw.view.members.some((m) => m.id === victim.id), 10_000, "the victim declared down");
  for (const id of owned) t.is(await gw.ref(Bulky, id).size(), PARTS * LINES, `${id} whole`);
  await new Promise((r) => setTimeout(r, 2_000)); // the new backups' full copies
  const survivors = workers.slice(1);
  for (const w of survivors) {
    t.is(w.child.exitCode, null, `${w.id} still runs`);
    t.notRegex(w.output(), /lease lapsed|removed from the view while alive/, `${w.id} kept its lease`);
  }
  t.is(gw.view.members.filter((m) => m.roles.includes("worker")).length, 2, "both survivors stayed in the view");
});
