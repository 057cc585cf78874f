import test, { type ExecutionContext } from "ava";
import { createNode, defineActor, sync, type ClusterNode } from "berth";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { settled } from "../helpers/cluster.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * Actors larger than a NATS message (1 MiB by default): a move cuts them into pieces and the
 * receiver joins them, so a planned move loses nothing however big the state.
 */

/** Appends strings of `size` characters; `summary` says what it holds without returning it. */
function blobActor(name: string, backup?: ReturnType<typeof sync>) {
  return defineActor(name, {
    state: () => ({ parts: [] as string[] }),
    ...(backup ? { backup } : {}),
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
}

const Blob = blobActor("blob");
/** The same, backed up synchronously: every acknowledged write is on the backup, however large. */
const SyncBlob = blobActor("syncBlob", sync({ backups: 1 }));
/** The same, confirmed by the event log only: recovery replays snapshots and deltas stored in pieces. */
const LogBlob = blobActor("logBlob", sync({ log: true }));

/** Workers a and b and a gateway on a fresh cluster, settled, stopped when the test ends. */
async function workersAndGateway(t: ExecutionContext, actor: ReturnType<typeof blobActor>): Promise<[ClusterNode, ClusterNode, ClusterNode]> {
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  for (const id of ["a", "b", "gw"]) {
    nodes.push(await createNode({ actors: [actor], nats: { servers: nats.urls }, cluster, id, roles: [id === "gw" ? "gateway" : "worker"], logger: "error" }));
  }
  await settled(nodes);
  return nodes as [ClusterNode, ClusterNode, ClusterNode];
}

const nats = natsForFile("single");

test("a planned move carries actors of several MiB intact (cut into pieces), with small actors beside them", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop().catch(() => undefined))).then(() => undefined));
  const mk = async (id: string): Promise<ClusterNode> => {
    const n = await createNode({ actors: [Blob, SyncBlob], nats: { servers: nats.urls }, cluster, id, logger: "error" });
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

test("sync({ backups: 1 }) replicates changes and states above a message's size, without stalling the other actors", async (t) => {
  t.timeout(90_000);
  const [a, b, gw] = await workersAndGateway(t, SyncBlob);
  const ownedBy = (owner: string, n: number): string[] => {
    const out: string[] = [];
    for (let i = 0; out.length < n; i++) if (gw.locate(`big-${i}`).owner === owner) out.push(`big-${i}`);
    return out;
  };
  const [big] = ownedBy("a", 1) as [string];
  const small = ownedBy("a", 20).filter((id) => id !== big);
  // One turn of 1.5 MB (above the 1 MiB message limit), then growing past 3 MB in 0.5 MB turns,
  // interleaved with small writes to other actors on the same owner and backup.
  const started = Date.now();
  t.is(await gw.ref(SyncBlob, big).put(0, 1_500_000), 1);
  for (let k = 1; k <= 4; k++) {
    await Promise.all([gw.ref(SyncBlob, big).put(k, 500_000), ...small.map((id) => gw.ref(SyncBlob, id).put(k, 10))]);
  }
  t.true(Date.now() - started < 20_000, `acknowledged in ${Date.now() - started} ms (no stalled channel, no 2.5 s retries)`);
  t.is(a.stats().replication.syncFailures, 0);
  const expected = await gw.ref(SyncBlob, big).summary();
  t.is(expected.chars, 1_500_000 + 4 * 500_000);
  // The backup holds it all: kill the owner, the backup takes over with the big actor intact.
  await a.crash();
  await waitFor(() => gw.view.members.length === 2 && gw.locate(big).owner === "b", 15_000, "b to own the big actor");
  t.deepEqual(await gw.ref(SyncBlob, big).summary(), expected, "the 3.5 MB actor survived its owner's death");
  for (const id of small) t.is((await gw.ref(SyncBlob, id).summary()).parts, 4, `${id} kept its four acknowledged writes`);
  t.true(b.stats().moves.recoveries > 0);
});

test("sync({ log: true }) stores states above a message's size in pieces, and a survivor recovers them from the log", async (t) => {
  t.timeout(120_000);
  const [a, b, gw] = await workersAndGateway(t, LogBlob);
  let i = 0;
  while (gw.locate(`log-big-${i}`).owner !== "a") i++;
  const big = `log-big-${i}`;
  // The first append is a snapshot of 1.5 MB: two pieces. Then 0.5 MB deltas, then small ones
  // until the next snapshot (after 32 messages) is taken — of 3.5 MB, four pieces.
  t.is(await gw.ref(LogBlob, big).put(0, 1_500_000), 1);
  for (let k = 1; k <= 4; k++) await gw.ref(LogBlob, big).put(k, 500_000);
  for (let k = 5; k <= 44; k++) await gw.ref(LogBlob, big).put(k, 10);
  const expected = await gw.ref(LogBlob, big).summary();
  t.is(expected.parts, 45);
  t.is(expected.chars, 1_500_000 + 4 * 500_000 + 40 * 10);
  t.is(a.stats().replication.logFailures, 0, "no append refused for its size");
  // No hot backup: the survivor rebuilds the actor from the log alone.
  await a.crash();
  await waitFor(() => gw.view.members.length === 2 && gw.locate(big).owner === "b", 15_000, "b to own the big actor");
  t.deepEqual(await gw.ref(LogBlob, big).summary(), expected, "the 3.5 MB actor came back from its pieced snapshot and the deltas after it");
  t.true(b.stats().moves.recoveries > 0);
});

test("sync({ log: true }): a turn too large for the log fails at once with PayloadTooLargeError naming the log entry, and is not retried until the deadline", async (t) => {
  t.timeout(60_000);
  const [, , gw] = await workersAndGateway(t, LogBlob);
  const ref = gw.ref(LogBlob, "too-big");
  t.is(await ref.put(0, 10), 1);
  const started = Date.now();
  // 16 pieces of (1 MiB less headers) is the most one entry may take: 20 MB needs more.
  const error = await t.throwsAsync(ref.put(1, 20_000_000), { name: "PayloadTooLargeError" });
  const took = Date.now() - started;
  t.regex(error?.message ?? "", /the event log entry of logBlob\/too-big .* exceeds the limit of \d+ bytes.*NATS max_payload/);
  t.true(took < 10_000, `failed after ${took} ms, not at the 30 s call deadline`);
});
