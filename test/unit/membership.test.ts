import test from "ava";
import { createLogger } from "../../framework/src/node/logger.js";
import { Membership } from "../../framework/src/membership/Membership.js";
import { InMemoryDirectory, InMemoryViewStore } from "../../framework/src/membership/InMemoryStores.js";
import { InProcessNetwork } from "../../framework/src/transport/InProcessTransport.js";
import type { ViewStore } from "../../framework/src/membership/types.js";
import type { Transport } from "../../framework/src/transport/types.js";
import { ConfigError, MalformedMessageError } from "berth";
import { computeTable, encodeTable } from "../../framework/src/placement/index.js";
import { decodeHeartbeat, decodeView, encodeJson, MAX_EPOCH } from "../../framework/src/membership/codec.js";
import { FakeClock } from "berth/testing";

const log = createLogger({ level: "silent" });

/** When the view store itself refuses writes (its NATS server is down), for every node. */
interface Outage {
  swaps: boolean;
  /** Reads of the store so far, and a gate each read waits at (after taking its value). */
  reads: number;
  gate?: Promise<void>;
  /** Change notices are not delivered (only reads see changes). */
  muted?: boolean;
}

/** The shared view store as one node sees it: unreachable while the network cuts that node off. */
function storeFor(store: InMemoryViewStore, net: InProcessNetwork, id: string, outage: Outage): ViewStore {
  const check = (): void => {
    if (net.isIsolated(id)) throw new Error(`${id} cannot reach the view store`);
  };
  return {
    read: async () => {
      check();
      outage.reads++;
      const value = await store.read();
      await outage.gate;
      return value;
    },
    swap: async (next, expected) => {
      check();
      if (outage.swaps) throw new Error("the view store's server is down");
      return store.swap(next, expected);
    },
    watch: (fn) => store.watch((v) => (net.isIsolated(id) || outage.muted ? undefined : fn(v))),
    close: () => store.close(),
  };
}

async function cluster(ids: string[]) {
  const outage: Outage = { swaps: false, reads: 0 };
  const clock = new FakeClock();
  const net = new InProcessNetwork();
  const views = new InMemoryViewStore();
  const directory = new InMemoryDirectory();
  const make = (id: string, incarnation = `${id}-1`, transport: Transport = net.connect(id)) =>
    new Membership({
      self: { id, roles: ["worker"], capacity: 1, incarnation, pid: 1, host: "h", started: 0 },
      transport,
      views: storeFor(views, net, id, outage),
      directory,
      clock,
      log,
      placement: { partitions: 64, backups: 1 },
    });
  const members = ids.map((id) => make(id));
  // start() waits on the clock: advance it while the members join.
  const joined = Promise.all(members.map((m) => m.start(10_000)));
  while (!members.every((m) => m.state === "up")) await clock.advance(20);
  await joined;
  return { clock, net, views, directory, members, make, outage };
}

const ids = (m: Membership) => m.current.members.map((x) => x.id);

test("members join one view, with one table over all of them", async (t) => {
  const { members, clock } = await cluster(["a", "b", "c"]);
  await clock.advance(300);
  for (const m of members) t.deepEqual(ids(m), ["a", "b", "c"]);
  t.true(members.every((m) => m.current.epoch === members[0]?.current.epoch));
  t.deepEqual(members[0]?.table?.members, ["a", "b", "c"]);
  t.true(members.every((m) => m.leaseValid()));
  for (const m of members) m.stop();
});

test("a crashed member is removed after downAfterMs, not before", async (t) => {
  const { members, clock } = await cluster(["a", "b", "c"]);
  const [a, b, c] = members as [Membership, Membership, Membership];
  c.stop();
  await clock.advance(1_000);
  t.deepEqual(ids(a), ["a", "b", "c"], "still a member after 1 s of silence");
  t.is(a.livenessOf("c"), "suspect");
  await clock.advance(800);
  t.deepEqual(ids(a), ["a", "b"]);
  t.deepEqual(ids(b), ["a", "b"]);
  t.deepEqual(a.table?.members, ["a", "b"]);
  a.stop();
  b.stop();
});

test("a view change that failed because the view store was down is proposed again once it is back, with nothing else changing", async (t) => {
  const { members, clock, outage } = await cluster(["a", "b", "c"]);
  const [a, b, c] = members as [Membership, Membership, Membership];
  outage.swaps = true;
  c.stop();
  await clock.advance(3_000);
  t.is(a.livenessOf("c"), "down");
  t.deepEqual(ids(a), ["a", "b", "c"], "the removal could not be written");
  outage.swaps = false;
  await clock.advance(10_000);
  t.deepEqual(ids(a), ["a", "b"], "the dead member was removed after the store came back");
  t.deepEqual(ids(b), ["a", "b"]);
  a.stop();
  b.stop();
});

/** Drives a membership's start() on the fake clock; returns how it settled. */
async function startOn(clock: FakeClock, m: Membership): Promise<Error | null> {
  let settled: Error | null | undefined;
  m.start(10_000).then(
    () => (settled = null),
    (error: Error) => (settled = error),
  );
  while (settled === undefined) await clock.advance(20);
  return settled;
}

test("a second process with a running node's id refuses to start, and the running node keeps its place and its state", async (t) => {
  const { members, clock, make } = await cluster(["a", "b"]);
  const [a, b] = members as [Membership, Membership];
  const epoch = a.current.epoch;
  const twin = make("b", "b-2");
  const error = await startOn(clock, twin);
  t.true(error instanceof ConfigError, String(error));
  t.regex(error?.message ?? "", /node id "b" is in use by a running node \(pid 1 on h\): give every node its own id/);
  await clock.advance(3_000);
  t.is(b.state, "up");
  t.is(a.current.epoch, epoch, "the view never changed");
  t.is(a.current.members.find((m) => m.id === "b")?.incarnation, "b-1");
  a.stop();
  b.stop();
});

test("a node restarted after a crash takes its old place at once (its old process is silent)", async (t) => {
  const { members, clock, make } = await cluster(["a", "b"]);
  const [a, b] = members as [Membership, Membership];
  b.stop();
  const started = clock.now();
  const again = make("b", "b-2");
  t.is(await startOn(clock, again), null);
  t.true(clock.now() - started < 1_500, `joined after ${clock.now() - started} ms, before the old one would be declared down`);
  t.is(a.current.members.find((m) => m.id === "b")?.incarnation, "b-2");
  a.stop();
  again.stop();
});

test("two processes with one id that both got in (neither heard the other first): the one whose place was taken stops instead of fighting back", async (t) => {
  const { members, clock, make, net, directory } = await cluster(["a", "b"]);
  const [a, b] = members as [Membership, Membership];
  const conflicts: ConfigError[] = [];
  b.onConflict((e) => conflicts.push(e));
  // The newcomer hears no heartbeats while it joins, so it takes b's place.
  const gate = { open: false };
  const inner = net.connect("b");
  const deaf: Transport = {
    nodeId: "b",
    send: (...args) => inner.send(...args),
    request: (...args) => inner.request(...args),
    serve: (h) => inner.serve(h),
    publish: (topic, payload) => inner.publish(topic, payload),
    subscribe: (topic, h) => inner.subscribe(topic, (p) => (gate.open ? h(p) : undefined)),
    close: () => inner.close(),
  };
  const twin = make("b", "b-2", deaf);
  t.is(await startOn(clock, twin), null);
  gate.open = true;
  await clock.advance(500);
  t.is(conflicts.length, 1, "the replaced node gave way");
  t.regex(conflicts[0]?.message ?? "", /took this node's place/);
  t.is(b.state, "down");
  const epoch = a.current.epoch;
  await clock.advance(5_000);
  t.is(a.current.epoch, epoch, "no more view changes: no fight");
  t.is(a.current.members.find((m) => m.id === "b")?.incarnation, "b-2");
  const record = (await directory.list()).find((r) => r.id === "b");
  t.like(record, { incarnation: "b-2", state: "up" }, "the one that gave way wrote no record over the other's");
  a.stop();
  twin.stop();
});

test("a stored view with another partition count is not applied (its partitions would be out of range): the members keep the last good one and repair it", async (t) => {
  const { members, clock, views } = await cluster(["a", "b"]);
  const [a, b] = members as [Membership, Membership];
  const good = a.current;
  const current = await views.read();
  const workers = good.members.map((m) => ({ id: m.id, capacity: 1 }));
  const forged = { ...good, epoch: good.epoch + 1, table: encodeTable(computeTable({ epoch: good.epoch + 1, members: workers }, { partitions: 2, backups: 1 })) };
  t.truthy(await views.swap(forged, current?.revision ?? null));
  await clock.advance(2_000);
  t.is(a.table?.partitions, 64, "a kept a table of the cluster's partition count");
  t.is(b.table?.partitions, 64);
  const repaired = await views.read();
  t.true((repaired?.revision ?? 0) > (current?.revision ?? 0) + 1, "the view was written again");
  t.is(repaired?.view?.table?.partitions, 64, "with 64 partitions");
  t.true(a.leaseValid() && b.leaseValid());
  a.stop();
  b.stop();
});

test("view and heartbeat epochs are bounded, so that the next epoch can always be proposed", (t) => {
  const view = { epoch: MAX_EPOCH + 1, members: [], table: null };
  t.throws(() => decodeView(encodeJson(view)), { instanceOf: MalformedMessageError, message: /epoch/ });
  t.is(decodeView(encodeJson({ ...view, epoch: MAX_EPOCH })).epoch, MAX_EPOCH);
  t.throws(() => decodeHeartbeat(encodeJson({ id: "a", incarnation: "a-1", epoch: Number.MAX_SAFE_INTEGER, state: "up" })), { instanceOf: MalformedMessageError });
});

test("reconciles asked for while one is in flight share one more read, which starts after it: a flood costs two reads, and no caller gets a view older than its request", async (t) => {
  const { members, views, outage } = await cluster(["a", "b"]);
  const [a, b] = members as [Membership, Membership];
  outage.muted = true;
  let open = (): void => undefined;
  outage.gate = new Promise<void>((r) => (open = r));
  const before = outage.reads;
  const first = a.reconcile(); // its read takes the view as it is now
  await new Promise((r) => setImmediate(r));
  const current = await views.read();
  const newer = { ...a.current, epoch: a.current.epoch + 1 };
  t.truthy(await views.swap(newer, current?.revision ?? null));
  const asked = Array.from({ length: 100 }, () => a.reconcile());
  open();
  await Promise.all([first, ...asked]);
  t.is(outage.reads - before, 2, "one read in flight, one queued for the hundred that asked meanwhile");
  t.is(a.current.epoch, newer.epoch, "the callers got the view written after the first read began");
  a.stop();
  b.stop();
});

test("a cut-off member stops serving (lease) before the others remove it, then rejoins when healed", async (t) => {
  const { members, clock, net } = await cluster(["a", "b", "c"]);
  const [a, , c] = members as [Membership, Membership, Membership];
  net.isolate("c");
  let leaseLostAt = -1;
  let removedAt = -1;
  const start = clock.now();
  a.onView((v) => {
    if (removedAt < 0 && !v.members.some((m) => m.id === "c")) removedAt = clock.now() - start;
  });
  for (let i = 0; i < 150 && removedAt < 0; i++) {
    await clock.advance(20);
    if (leaseLostAt < 0 && !c.leaseValid()) leaseLostAt = clock.now() - start;
  }
  t.log(`lease lost after ${leaseLostAt} ms, removed after ${removedAt} ms`);
  t.true(leaseLostAt > 0 && removedAt > 0);
  t.true(leaseLostAt < removedAt, "the cut-off node stopped serving before anyone could take over");
  net.heal("c");
  for (let i = 0; i < 100 && !(ids(a).includes("c") && c.leaseValid()); i++) await clock.advance(20);
  t.true(ids(a).includes("c"), "it rejoined");
  t.true(c.leaseValid());
  for (const m of members) m.stop();
});

// Found by the network partition test (partition.test.ts): cut off, a node declares every peer
// down (it hears none); healed, its lease is valid again while those verdicts stood, and as the
// lowest live member it evicted the two members that had carried on without it.
test("a member healed from a partition evicts nobody: its peers' silence was its own", async (t) => {
  const { members, clock, net } = await cluster(["a", "b", "c"]);
  const [a, b] = members as [Membership, Membership, Membership];
  const evicted: string[] = [];
  b.onView((v) => {
    for (const id of ["b", "c"]) if (!v.members.some((m) => m.id === id)) evicted.push(`${id} at epoch ${v.epoch}`);
  });
  net.isolate("a");
  for (let i = 0; i < 150 && ids(b).includes("a"); i++) await clock.advance(20);
  t.false(ids(b).includes("a"), "the others removed the cut-off member");
  t.is(a.livenessOf("b"), "down", "the cut-off member declared its peers down meanwhile");
  net.heal("a");
  for (let i = 0; i < 150; i++) await clock.advance(20);
  t.deepEqual(evicted, [], "no member that kept running was removed");
  for (const m of members) t.deepEqual(ids(m), ["a", "b", "c"], "the healed member rejoined beside the others");
  for (const m of members) m.stop();
});

test("a graceful leave removes the member at once", async (t) => {
  const { members, clock } = await cluster(["a", "b"]);
  const [a, b] = members as [Membership, Membership];
  const leaving = b.leave(5_000);
  while (ids(a).includes("b")) await clock.advance(10);
  await leaving;
  t.deepEqual(ids(a), ["a"]);
  t.is(b.state, "down");
  a.stop();
});

test("an unreadable view in the store is repaired from the last good one", async (t) => {
  const { members, clock, views } = await cluster(["a", "b"]);
  const current = await views.read();
  // Something that is not Berth wrote the view key: the store hands back "unreadable".
  (views as unknown as { current: { view: null; revision: number } }).current = { view: null, revision: (current?.revision ?? 0) + 1 };
  await members[0]?.reconcile();
  await members[1]?.reconcile();
  await clock.advance(100);
  const repaired = await views.read();
  t.truthy(repaired?.view);
  t.deepEqual(repaired?.view?.members.map((m) => m.id), ["a", "b"]);
  t.true((repaired?.view?.epoch ?? 0) > (current?.view?.epoch ?? 0));
  for (const m of members) m.stop();
});

test("timing that would let a cut-off node serve after a takeover is refused", (t) => {
  t.throws(
    () =>
      new Membership({
        self: { id: "a", roles: ["worker"], capacity: 1, incarnation: "x", pid: 1, host: "h", started: 0 },
        transport: new InProcessNetwork().connect("a"),
        views: new InMemoryViewStore(),
        directory: new InMemoryDirectory(),
        clock: new FakeClock(),
        log,
        placement: { partitions: 64, backups: 1 },
        timing: { leaseMs: 2_000, downAfterMs: 1_500 },
      }),
    { message: /leaseMs \(2000\) must be shorter than downAfterMs \(1500\)/ },
  );
});
