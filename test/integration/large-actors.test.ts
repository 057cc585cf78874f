import test from "ava";
import { createNode, defineActor, type ClusterNode } from "berth";
import { startTestNats, uniqueCluster, type TestNats } from "../helpers/nats.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * Actors larger than a NATS message (1 MiB by default): a move cuts them into pieces and the
 * receiver joins them, so a planned move loses nothing however big the state.
 */

const Blob = defineActor("blob", {
  state: () => ({ parts: [] as string[] }),
  handlers: {
    put(ctx, index: number, size: number) {
      ctx.state.parts.push(`${index}:`.padEnd(size, String.fromCharCode(97 + (index % 26))));
      return ctx.state.parts.length;
    },
  },
  queries: {
    summary: (ctx) => ({ parts: ctx.state.parts.length, chars: ctx.state.parts.reduce((n, p) => n + p.length, 0), heads: ctx.state.parts.map((p) => p.slice(0, 8)) }),
  },
});

let nats: TestNats;
test.before(async () => {
  nats = await startTestNats("single");
});
test.after.always(async () => {
  await nats?.stop();
});

async function settled(nodes: ClusterNode[]): Promise<void> {
  await waitFor(() => nodes.every((n) => n.view.epoch === nodes[0]?.view.epoch && n.view.members.length === nodes.length && Object.values(n.stats().moves.inMotion).every((c) => c === 0)), 30_000, "a settled cluster");
}

test("a planned move carries actors of several MiB intact (cut into pieces), with small actors beside them", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  const mk = async (id: string): Promise<ClusterNode> => {
    const n = await createNode({ actors: [Blob], nats: { servers: nats.urls }, cluster, id, logger: "error" });
    nodes.push(n);
    return n;
  };
  const a = await mk("a");
  await settled(nodes);
  const ids = Array.from({ length: 40 }, (_, i) => `blob-${i}`);
  // Five actors of ~3 MiB (each put stays under one message), the rest small.
  for (const [i, id] of ids.entries()) {
    const big = i % 8 === 0;
    for (let k = 0; k < (big ? 6 : 1); k++) await a.ref(Blob, id).put(k, big ? 512 * 1024 : 100);
  }
  const before = await Promise.all(ids.map((id) => a.ref(Blob, id).summary()));
  t.true(before.filter((s) => s.chars > 3_000_000).length === 5, "five actors above 3 MB");

  const b = await mk("b"); // takes about half the partitions: the big actors among them move
  await settled(nodes);
  const moved = ids.filter((id) => b.locate(id).owner === "b");
  t.true(moved.some((id) => ids.indexOf(id) % 8 === 0), `at least one big actor moved (${moved.join(",")})`);
  const after = await Promise.all(ids.map((id) => a.ref(Blob, id).summary()));
  t.deepEqual(after, before, "every actor, big and small, is intact after the move");
  t.is(a.stats().moves.movesAborted + b.stats().moves.movesAborted, 0);
});
