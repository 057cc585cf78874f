import test, { type ExecutionContext } from "ava";
import { async, defineActor, QueryMutationError, sync, token, type ClusterNode } from "berth";
import { clusterNodes } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * `readFrom: "backup"` on a real NATS server with in-process cluster nodes: a query issued on a
 * hot backup is answered there (its `deps` say which node answered), sees every acknowledged
 * sync write, falls back to the owner when the copy is missing or behind, keeps within
 * `maxLagMs` under async (and falls back when the stream to it stalls), and never changes the copy.
 */

/** Which node ran a query: each node registers its own id. */
const Where = token<{ node: string }>("where");

const SyncCart = defineActor("syncCart", {
  state: () => ({ items: [] as string[] }),
  backup: sync({ backups: 1 }),
  readFrom: "backup",
  deps: { where: Where },
  handlers: {
    add(ctx, sku: string) {
      ctx.state.items.push(sku);
      return ctx.state.items.length;
    },
  },
  queries: {
    count: (ctx) => ctx.state.items.length,
    where: (ctx) => ctx.deps.where.node,
    sneaky(ctx) {
      (ctx.state.items as string[]).push("sneaked");
      return ctx.state.items.length;
    },
  },
});

const MAX_LAG = 300;
const Feed = defineActor("feed", {
  state: () => ({ n: 0 }),
  backup: async({ maxLagMs: MAX_LAG }),
  readFrom: "backup",
  deps: { where: Where },
  handlers: {
    set(ctx, n: number) {
      ctx.state.n = n;
    },
  },
  queries: {
    n: (ctx) => ctx.state.n,
    where: (ctx) => ctx.deps.where.node,
  },
});

/** Backup reads resolve without I/O: a loop of them must yield, or it starves heartbeats and replies. */
function yieldToIo(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1));
}

const nats = natsForFile("single");

interface Roles {
  readonly owner: ClusterNode;
  readonly backup: ClusterNode;
  readonly other: ClusterNode;
  readonly partition: number;
}

async function cluster(t: ExecutionContext): Promise<ClusterNode[]> {
  return clusterNodes(t, {
    count: 3,
    cluster: uniqueCluster(),
    urls: nats.urls,
    actors: [SyncCart, Feed],
    partitions: 64,
    providers: (i) => (c) => c.register(Where, { useValue: { node: `n${i}` } }),
  });
}

function rolesOf(nodes: ClusterNode[], id: string): Roles {
  const n0 = nodes[0] as ClusterNode;
  const { partition } = n0.locate(id);
  const table = n0.partitionTable;
  const byId = (x: string): ClusterNode => nodes.find((n) => n.id === x) as ClusterNode;
  const owner = byId(table.ownerOf(partition));
  const backup = byId(table.backupsOf(partition)[0] as string);
  const other = nodes.find((n) => n !== owner && n !== backup) as ClusterNode;
  return { owner, backup, other, partition };
}

test.serial("a query issued on a hot backup is answered there and sees every acknowledged sync write", async (t) => {
  const nodes = await cluster(t);
  const { owner, backup, other } = rolesOf(nodes, "cart-1");
  for (let i = 1; i <= 30; i++) {
    t.is(await other.ref(SyncCart, "cart-1").add(`sku-${i}`), i);
    t.is(await backup.ref(SyncCart, "cart-1").count(), i, `the backup sees write ${i} as soon as it was acknowledged`);
  }
  t.is(await backup.ref(SyncCart, "cart-1").where(), backup.id, "the backup answered");
  t.is(await other.ref(SyncCart, "cart-1").where(), owner.id, "a node that holds no copy asks the owner");
  const servedBefore = owner.stats().rpc.served;
  for (let i = 0; i < 20; i++) t.is(await backup.ref(SyncCart, "cart-1").count(), 30);
  t.is(owner.stats().rpc.served, servedBefore, "none of those reads reached the owner");
  const reads = backup.stats().backupReads;
  t.true(reads.served >= 51, `${reads.served} reads answered on the backup`);
  t.true(reads.marks <= 10, `${reads.marks} read marks asked for 51 reads`);
  t.log(`backup ${backup.id}: ${JSON.stringify(reads)}`);
});

test.serial("a backup without a usable copy sends the query to the owner", async (t) => {
  const nodes = await cluster(t);
  const { owner, backup, other, partition } = rolesOf(nodes, "cart-2");
  t.is(await backup.ref(SyncCart, "cart-2").where(), owner.id, "never written: no copy, the owner answers");
  t.is(backup.stats().backupReads.noCopy, 1);

  await other.ref(SyncCart, "cart-2").add("a");
  t.is(await backup.ref(SyncCart, "cart-2").where(), backup.id);
  await owner.passivateAll();
  t.is(await backup.ref(SyncCart, "cart-2").count(), 1, "the copy outlives the owner's passivation");
  t.is(await backup.ref(SyncCart, "cart-2").where(), backup.id);

  // A delta that does not follow on (as after a lost message): the copy is behind until the
  // owner's next delta applies on it (or a full record replaces it).
  const seq = backup.backups.peek(partition, "syncCart", "cart-2")?.seq ?? 0;
  backup.backups.apply([{ k: "d", p: partition, t: "syncCart", i: "cart-2", s: seq + 5, d: [], lu: 0 }], backup.view.epoch);
  t.true(backup.backups.peek(partition, "syncCart", "cart-2")?.behind);
  t.is(await backup.ref(SyncCart, "cart-2").where(), owner.id, "a copy behind its sequence does not answer");
  await other.ref(SyncCart, "cart-2").add("b");
  t.false(backup.backups.peek(partition, "syncCart", "cart-2")?.behind);
  t.is(await backup.ref(SyncCart, "cart-2").count(), 2);
  t.is(await backup.ref(SyncCart, "cart-2").where(), backup.id);
});

test.serial("a query that changes the state fails on the backup, and the copy stays as it was", async (t) => {
  const nodes = await cluster(t);
  const { backup, other, partition } = rolesOf(nodes, "cart-3");
  await other.ref(SyncCart, "cart-3").add("a");
  await other.ref(SyncCart, "cart-3").add("b");
  const before = structuredClone(backup.backups.peek(partition, "syncCart", "cart-3")?.state);
  const served = backup.stats().backupReads.served;
  const e = await t.throwsAsync(backup.ref(SyncCart, "cart-3").sneaky(), { instanceOf: QueryMutationError });
  t.regex(e?.message ?? "", /state\.items/);
  t.is(backup.stats().backupReads.served, served + 1, "it ran on the backup");
  t.deepEqual(backup.backups.peek(partition, "syncCart", "cart-3")?.state, before);
  t.deepEqual(before, { items: ["a", "b"] });
  t.is(await backup.ref(SyncCart, "cart-3").count(), 2);
});

test.serial("under async, a backup read sees every write committed more than maxLagMs before it, and a stalled stream sends reads to the owner", async (t) => {
  t.timeout(60_000);
  const nodes = await cluster(t);
  const { owner, backup, other } = rolesOf(nodes, "feed-1");
  const ackedAt: number[] = [0];
  let v = 0;
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      await other.ref(Feed, "feed-1").set(v + 1);
      v++;
      ackedAt[v] = Date.now();
    }
  })();
  let violations = 0;
  let reads = 0;
  let worst = 0;
  const ends = Date.now() + 2_000;
  while (Date.now() < ends) {
    const startedAt = Date.now();
    const seen = await backup.ref(Feed, "feed-1").n();
    reads++;
    await yieldToIo(); // a local answer resolves at once: let the writer's replies in
    // The newest write acknowledged more than maxLagMs before the read started must be visible.
    let due = 0;
    for (let w = v; w > 0; w--) {
      if ((ackedAt[w] ?? Infinity) < startedAt - MAX_LAG) {
        due = w;
        break;
      }
    }
    if (seen < due) violations++;
    // How far behind the answer was: the age of the first write it did not show.
    const missed = ackedAt[seen + 1];
    if (missed !== undefined && missed < startedAt) worst = Math.max(worst, startedAt - missed);
  }
  stop = true;
  await writer;
  const stats = backup.stats().backupReads;
  t.log(`${v} writes, ${reads} reads on the backup: ${stats.served} answered there, ${stats.stale} sent to the owner for staleness; the stalest answer missed a write acknowledged ${worst} ms before the read`);
  t.is(violations, 0, "no read missed a write acknowledged more than maxLagMs before it");
  t.true(stats.served > reads / 2, "most reads were answered on the backup");
  t.true(worst <= MAX_LAG, `worst staleness ${worst} ms ≤ ${MAX_LAG} ms`);

  // The stream to the backup stalls (its store refuses every batch): the owner's lag grows, and
  // reads on the backup go to the owner instead of answering from a copy falling behind.
  const apply = backup.backups.apply.bind(backup.backups);
  backup.backups.apply = () => {
    throw new Error("backup store stalled (test)");
  };
  await other.ref(Feed, "feed-1").set(v + 1);
  const stale = backup.stats().backupReads.stale;
  await new Promise((r) => setTimeout(r, MAX_LAG + 100));
  t.is(await backup.ref(Feed, "feed-1").n(), v + 1, "the owner answered with the write the backup does not have");
  t.is(await backup.ref(Feed, "feed-1").where(), owner.id);
  t.true(backup.stats().backupReads.stale > stale);
  backup.backups.apply = apply;
  await waitFor(async () => (await backup.ref(Feed, "feed-1").where()) === backup.id, 5_000, "the backup to catch up and answer again");
  t.is(await backup.ref(Feed, "feed-1").n(), v + 1);
});

test.serial("when the owner dies, reads on its hot backup still show every acknowledged sync write, before and after the takeover", async (t) => {
  t.timeout(60_000);
  const nodes = await cluster(t);
  const { owner, backup, other } = rolesOf(nodes, "cart-4");
  for (let i = 1; i <= 10; i++) await other.ref(SyncCart, "cart-4").add(`sku-${i}`);
  t.is(await backup.ref(SyncCart, "cart-4").count(), 10);
  await owner.crash();
  const seen: number[] = [];
  const until = Date.now() + 3_000;
  while (Date.now() < until) {
    seen.push(await backup.ref(SyncCart, "cart-4").count());
    await yieldToIo();
  }
  t.true(seen.every((n) => n === 10), `every read showed all 10 writes (${[...new Set(seen)].join(",")})`);
  await waitFor(() => backup.locate("cart-4").owner === backup.id, 10_000, "the backup to take over");
  t.is(await backup.ref(SyncCart, "cart-4").count(), 10);
  t.is(await backup.ref(SyncCart, "cart-4").add("after"), 11);
});
