import test from "ava";
import { createNode, type ClusterNode } from "berth";
import { defineCheckout } from "../../templates/statechart/src/checkout.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * The statechart template's checkout on a real cluster: its abandonment deadline (a durable
 * timer made from the machine's `after`) survives a move of its partition to a node that
 * joins meanwhile, and fires exactly once, on the new owner. The template's own tests cover
 * the 15 minutes on a fake clock; a real clock cannot wait that long here, so the deadline is
 * shortened through the machine's named delay (`defineCheckout({ abandonAfterMs })`).
 */
const DEADLINE_MS = 8_000;
const CHECKOUTS = 60;
const Checkout = defineCheckout({ abandonAfterMs: DEADLINE_MS });
const ADDRESS = { name: "Ada", street: "1 Main St", city: "Springfield", postcode: "12345" };

const nats = natsForFile("single");

test("a checkout's deadline moves with it to a joining node and fires once there", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())).then(() => undefined));
  const start = async (id: string): Promise<ClusterNode> => {
    const node = await createNode({ actors: [Checkout], nats: { servers: nats.urls }, cluster, id, logger: "warn" });
    nodes.push(node);
    return node;
  };
  const w1 = await start("w1");
  await waitFor(() => w1.stats().partitionsOwned === 1024, 20_000, "w1 to own every partition");

  const ids = Array.from({ length: CHECKOUTS }, (_, i) => `checkout-${i}`);
  let firstDue = Infinity;
  await Promise.all(
    ids.map(async (id) => {
      const c = w1.ref(Checkout, id);
      await c.send({ type: "ADD_ITEM", sku: "apple", qty: 1 });
      await c.send({ type: "CHECKOUT" });
      const entered = Date.now();
      t.is((await c.send({ type: "SET_ADDRESS", address: ADDRESS })).value, "payment");
      firstDue = Math.min(firstDue, entered + DEADLINE_MS);
    }),
  );

  const w2 = await start("w2");
  await waitFor(
    () => {
      const moving = [w1, w2].reduce((n, w) => n + Object.values(w.stats().moves.inMotion).reduce((a, b) => a + b, 0), 0);
      return w1.view.epoch === w2.view.epoch && w1.stats().partitionsOwned + w2.stats().partitionsOwned === 1024 && w2.stats().partitionsOwned > 0 && moving === 0;
    },
    20_000,
    "the join's moves to finish",
  );
  const moved = ids.filter((id) => w1.locate(id).owner === "w2");
  t.log(`${moved.length} of ${CHECKOUTS} checkouts moved to w2; the move finished ${firstDue - Date.now()} ms before the first deadline`);
  t.true(Date.now() < firstDue - 500, "the partitions moved before any deadline was due (else raise DEADLINE_MS)");
  t.true(moved.length > 0 && moved.length < CHECKOUTS, "some checkouts moved, some stayed");
  for (const id of moved) t.is((await w2.ref(Checkout, id).snapshot()).value, "payment", `${id} is still in payment on w2 before its deadline`);

  await waitFor(
    async () => (await Promise.all(ids.map((id) => w1.ref(Checkout, id).snapshot()))).every((s) => s.value === "abandoned"),
    DEADLINE_MS + 15_000,
    "every checkout to be abandoned",
  );
  await new Promise((r) => setTimeout(r, 1_500)); // room for a duplicate firing to show
  t.is(w2.stats().timersFired, moved.length, "each moved checkout's deadline fired once, on w2");
  t.is(w1.stats().timersFired, CHECKOUTS - moved.length, "w1 fired only the deadlines of the checkouts it kept");
  t.is(w1.stats().timerErrors + w2.stats().timerErrors, 0);
});
