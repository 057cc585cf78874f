import test from "ava";
import { createNode, defineActor, sync, type ClusterNode } from "berth";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * An activation whose `onActivate` changes the state (a machine actor starting its machine
 * does) replicates that first turn like any other: under `sync({ backups: 1 })` the backup
 * has no copy yet and asks for the full record, which the owner must be able to give while
 * the actor is still activating.
 */
const nats = natsForFile("single");

const Greeter = defineActor("greeter", {
  state: () => ({ started: false, greetings: 0 }),
  backup: sync({ backups: 1 }),
  onActivate(ctx) {
    ctx.state.started = true;
  },
  handlers: {
    greet(ctx): number {
      return ++ctx.state.greetings;
    },
  },
});

test("the first turn of an activation that changes the state is replicated and acknowledged", async (t) => {
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())).then(() => undefined));
  for (const id of ["a", "b"]) nodes.push(await createNode({ actors: [Greeter], nats: { servers: nats.urls }, cluster, id, logger: "warn" }));
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  await waitFor(() => a.view.members.length === 2 && b.view.members.length === 2 && a.view.epoch === b.view.epoch, 20_000, "both nodes in one view");
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => a.ref(Greeter, `g${i}`).greet()));
  t.deepEqual(results, Array.from({ length: 20 }, () => 1));
  t.true(Date.now() - started < 4_000, `20 first calls took ${Date.now() - started} ms (a stuck acknowledgement costs 5 s)`);
  t.is(a.stats().replication.syncFailures + b.stats().replication.syncFailures, 0);
  t.is(a.stats().replication.backupCopies + b.stats().replication.backupCopies, 20, "every greeter has its backup copy");
});
