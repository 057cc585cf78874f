import test from "ava";
import { createNode, DeadlineExceededError, defineActor, type ClusterNode } from "berth";
import { settled } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";

/** A call that never answers fails at the caller's deadline, and the error names that deadline, not an attempt's share. */
const Hang = defineActor("hang", {
  state: () => ({}),
  handlers: {
    async forever() {
      await new Promise(() => undefined);
    },
  },
});

const nats = natsForFile("single");

test.serial("a call whose owner never answers fails with DeadlineExceededError naming the call's timeout", async (t) => {
  t.timeout(30_000);
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.crash())).then(() => undefined));
  for (const id of ["a", "b"]) nodes.push(await createNode({ actors: [Hang], nats: { servers: nats.urls }, cluster, id, logger: "silent", callTimeout: "4s", partitions: 16 }));
  await settled(nodes);
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  let id = "h0";
  for (let i = 0; a.locate(id).owner !== b.id; i++) id = `h${i}`;
  const started = Date.now();
  const error = await t.throwsAsync(a.ref(Hang, id).forever(), { instanceOf: DeadlineExceededError });
  const took = Date.now() - started;
  t.regex(error?.message ?? "", /call did not complete within 4000 ms \(the last attempt had no reply from b\)/);
  t.true(took >= 3_900 && took < 6_000, `failed after ${took} ms`);
});
