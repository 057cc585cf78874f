import test from "ava";
import "reflect-metadata";

import { ActorHandlerError, ArityError, async, ConfigError, defineActor, defineMachineActor, none, QueryMutationError, sync, token, type BackupPolicy } from "berth";
import { container as rootContainer } from "tsyringe";
import { createMachine } from "xstate";
import { actorType } from "../../framework/src/actor/defineActor.js";
import { runSnapshotQuery, type SnapshotEnv } from "../../framework/src/actor/snapshotQuery.js";
import { createLogger } from "../../framework/src/node/logger.js";
import { computeTable, type PartitionTable } from "../../framework/src/placement/index.js";
import { BackupReader, MARK_TTL_MS, markState, type BackupReaderDeps } from "../../framework/src/replication/BackupReader.js";
import { BackupStore } from "../../framework/src/replication/BackupStore.js";
import { FakeClock } from "../../framework/src/testing/FakeClock.js";
import type { ControlMessage } from "../../framework/src/transport/control.js";

const log = createLogger({ level: "silent" });

// ---- configuration ----

test("readFrom backup needs a policy with hot backups: none() and log-only sync() are configuration errors", (t) => {
  for (const backup of [none(), sync({ log: true }), undefined]) {
    const e = t.throws(() => defineActor("r", { state: () => ({}), ...(backup ? { backup } : {}), readFrom: "backup" }), { instanceOf: ConfigError });
    t.regex(e?.message ?? "", /readFrom: "backup" needs a backup policy that keeps hot backups/);
  }
  const custom: BackupPolicy = { name: "mine", replicates: true, plan: () => ({ syncBackups: 1, asyncBackups: 0, syncLog: false, asyncLog: false }) };
  t.throws(() => defineActor("r", { state: () => ({}), backup: custom, readFrom: "backup" }), { instanceOf: ConfigError, message: /declare hotBackups on your custom policy/ });
  t.throws(() => defineActor("r", { state: () => ({}), backup: sync(), readFrom: "nearest" as "backup" }), { instanceOf: ConfigError, message: /must be "owner" or "backup"/ });
  t.is(actorType(defineActor("r", { state: () => ({}), backup: sync({ backups: 2 }), readFrom: "backup" })).readFrom, "backup");
  t.is(actorType(defineActor("r", { state: () => ({}), backup: async(), readFrom: "backup" })).readFrom, "backup");
  t.is(actorType(defineActor("r", { state: () => ({}), backup: { ...custom, hotBackups: 1 }, readFrom: "backup" })).readFrom, "backup");
  t.is(actorType(defineActor("r", { state: () => ({}) })).readFrom, "owner");
  const machine = createMachine({ id: "m", initial: "a", states: { a: {} } });
  t.is(actorType(defineMachineActor("m", machine, { backup: sync(), readFrom: "backup" })).readFrom, "backup");
  t.throws(() => defineMachineActor("m", machine, { readFrom: "backup" }), { instanceOf: ConfigError });
  t.is(sync({ backups: 3 }).hotBackups, 3);
  t.is(sync({ backups: 1, log: true }).hotBackups, 1);
  t.is(async().hotBackups, 1);
  t.is(none().hotBackups, 0);
});

// ---- running a query against a copy ----

const Where = token<{ node: string }>("where");
const Cart = defineActor("cart", {
  state: () => ({ items: [] as string[], meta: new Map<string, number>() }),
  backup: sync(),
  readFrom: "backup",
  deps: { where: Where },
  handlers: {
    add(ctx, sku: string) {
      ctx.state.items.push(sku);
    },
  },
  queries: {
    count: (ctx) => ctx.state.items.length,
    items: (ctx) => ctx.state.items,
    where: (ctx) => ctx.deps.where.node,
    sneaky(ctx) {
      (ctx.state.items as string[]).push("sneaked");
      return 1;
    },
    async later(ctx) {
      await new Promise((r) => setTimeout(r, 5));
      (ctx.state.meta as Map<string, number>).set("later", 1);
      return 2;
    },
    async slowCount(ctx) {
      await new Promise((r) => setTimeout(r, 5));
      return ctx.state.items.length;
    },
    broken() {
      throw new RangeError("no such thing");
    },
  },
});
const cartType = actorType(Cart);
const env: SnapshotEnv = { clock: new FakeClock(), log, refs: { ref: () => { throw new Error("no refs here"); } }, checkQueries: true };

function q(method: string, state: unknown, args: unknown[] = []) {
  const entry = cartType.handlers.get(method);
  if (entry === undefined) throw new Error(method);
  return runSnapshotQuery({ type: cartType, entry, id: "s1", state, args, deps: { where: { node: "b" } } }, env);
}

test("a query on a copy answers with a private copy of the result and never changes the copy", async (t) => {
  const state = { items: ["a", "b"], meta: new Map([["x", 1]]) };
  t.is(await q("count", state), 2);
  const items = (await q("items", state)) as string[];
  items.push("mine");
  t.deepEqual(state.items, ["a", "b"], "the result is a copy");
  t.is(await q("where", state), "b", "deps are the resolved ones");

  const e = await t.throwsAsync(q("sneaky", state), { instanceOf: QueryMutationError });
  t.regex(e?.message ?? "", /state\.items/);
  t.deepEqual(state.items, ["a", "b"], "the copy is unchanged after a mutating query");

  await t.throwsAsync(q("later", state), { instanceOf: QueryMutationError }, "a change after an await is caught too");
  t.deepEqual([...state.meta], [["x", 1]]);

  const err = await t.throwsAsync(q("broken", state), { instanceOf: ActorHandlerError });
  t.is(err?.errorName, "RangeError");
  await t.throwsAsync(q("count", state, [1]), { instanceOf: ArityError });
});

test("an async query on a copy is not blamed for deltas the copy takes while it waits", async (t) => {
  const state = { items: ["a"], meta: new Map<string, number>() };
  const pending = q("slowCount", state);
  state.items.push("b"); // a delta applied to the copy meanwhile
  t.is(await pending, 1, "the query saw the state as it started");
});

// ---- read marks ----

test("a read mark is usable while young and at this node's epoch; async policies add the lag", (t) => {
  const mark = { epoch: 3, lease: true, lagMs: 0, askedAt: 1_000 };
  t.deepEqual(markState(mark, 1_000, 3, undefined), { usable: true, renew: false });
  t.deepEqual(markState(mark, 1_000 + MARK_TTL_MS / 2 + 1, 3, undefined), { usable: true, renew: true });
  t.false(markState(mark, 1_000 + MARK_TTL_MS + 1, 3, undefined).usable, "too old");
  t.false(markState(mark, 1_000, 4, undefined).usable, "another epoch");
  t.false(markState({ ...mark, lease: false }, 1_000, 3, undefined).usable, "the owner's lease had lapsed");
  t.false(markState(undefined, 1_000, 3, undefined).usable);
  t.true(markState({ ...mark, lagMs: 40 }, 1_050, 3, 100).usable, "50 ms old + 40 ms lag within 100");
  t.false(markState({ ...mark, lagMs: 40 }, 1_070, 3, 100).usable, "70 ms old + 40 ms lag beyond 100");
  t.false(markState(mark, 999, 3, undefined).usable, "a mark from the future (clock stepped back) is not trusted");
});

// ---- the reader ----

interface Harness {
  reader: BackupReader;
  store: BackupStore;
  now: { t: number };
  asked: ControlMessage[];
  answer: { reply: unknown; fail: boolean };
  toOwner: () => Promise<unknown>;
  owned: { n: number };
  view(epoch: number, members: string[]): PartitionTable;
  table: PartitionTable;
}

function harness(): Harness {
  const store = new BackupStore();
  const now = { t: 10_000 };
  const asked: ControlMessage[] = [];
  const answer = { reply: { e: 1, lease: true, lagMs: 0 } as unknown, fail: false };
  let epoch = 1;
  const owned = { n: 0 };
  const container = rootContainer.createChildContainer();
  container.register(Where, { useValue: { node: "b" } });
  const deps: BackupReaderDeps = {
    selfId: "b",
    log,
    backups: store,
    container,
    env,
    epoch: () => epoch,
    leaseValid: () => true,
    idle: () => true,
    sendControl: async (_target, msg) => {
      asked.push(msg);
      if (answer.fail) throw new Error("no reply");
      return answer.reply;
    },
    reconcile: async () => undefined,
    now: () => now.t,
  };
  const reader = new BackupReader(deps);
  const h: Harness = {
    reader,
    store,
    now,
    asked,
    answer,
    owned,
    toOwner: async () => {
      owned.n++;
      return "from the owner";
    },
    view(e, members) {
      epoch = e;
      const table = computeTable({ epoch: e, members: members.map((id) => ({ id, capacity: 1 })) }, { partitions: 16, backups: 1 });
      reader.onView(e, table);
      h.table = table;
      return table;
    },
    table: null as unknown as PartitionTable,
  };
  return h;
}

/** A partition whose first backup is `b` and owner is `owner`. */
function partitionOf(table: PartitionTable, backup: string, owner?: string): number {
  for (let p = 0; p < table.partitions; p++) if (table.backupsOf(p)[0] === backup && (owner === undefined || table.ownerOf(p) === owner)) return p;
  throw new Error("no such partition");
}

function write(h: Harness, p: number, epoch: number, items: string[], seq: number): void {
  h.store.apply([{ k: "f", p, t: "cart", i: "s1", s: seq, r: { state: { items, meta: new Map() }, timers: [], timerSeq: 0, lastUsed: 0, seq } }], epoch);
}

const count = cartType.handlers.get("count") as NonNullable<ReturnType<typeof cartType.handlers.get>>;

test("the reader answers from a hot copy with a fresh mark, and sends everything else to the owner", async (t) => {
  const h = harness();
  const table = h.view(1, ["a", "b", "c"]);
  const p = partitionOf(table, "b");
  const owner = table.ownerOf(p);
  const notMine = partitionOf(table, "c");

  t.is(await h.reader.read(cartType, count, "s1", notMine, table.ownerOf(notMine), [], h.toOwner), "from the owner", "not a backup of this partition");
  t.is(h.reader.stats.notBackup, 1);
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "no copy");
  t.is(h.reader.stats.noCopy, 1);
  t.is(h.asked.length, 0, "no mark asked for when there is nothing to read");

  write(h, p, 1, ["x", "y"], 2);
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), 2, "answered here after one mark round trip");
  t.is(h.asked.length, 1);
  t.like(h.asked[0], { op: "readMark", from: "b", e: 1 });
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), 2);
  t.is(h.asked.length, 1, "the mark is reused while fresh");
  t.is(h.reader.stats.served, 2);

  h.now.t += MARK_TTL_MS / 2 + 1;
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), 2, "a mark past half its life still serves…");
  t.is(h.asked.length, 2, "…and is renewed in the background");

  h.now.t += MARK_TTL_MS + 1;
  h.answer.fail = true;
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "the owner stopped answering marks: reads go to it");
  t.is(h.reader.stats.stale, 1);
  h.answer.fail = false;
  h.answer.reply = { e: 1, lease: false, lagMs: 0 };
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "an owner without a lease vouches for nothing");
  h.answer.reply = { e: 0, lease: true, lagMs: 0 };
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "an owner at another epoch vouches for nothing");
  h.answer.reply = { bogus: true };
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "a malformed mark reply is ignored");
  t.is(h.owned.n, 6);
});

test("a copy waiting for a full record, or written before this node became a hot backup, does not answer", async (t) => {
  const h = harness();
  let table = h.view(1, ["a", "b", "c"]);
  const p = partitionOf(table, "b");
  const owner = table.ownerOf(p);
  write(h, p, 1, ["x"], 1);
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), 1);

  // A delta that does not follow on: the copy is behind until a full record arrives.
  h.store.apply([{ k: "d", p, t: "cart", i: "s1", s: 5, d: [], lu: 0 }], 1);
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner");
  write(h, p, 1, ["x", "y", "z"], 5);
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), 3);

  // b stops being a backup of p, then becomes one again: its copy is from the earlier stint.
  const others = ["a", "c", "d", "e", "f"];
  let epoch = 1;
  for (let i = 2; i < 40; i++) {
    epoch = i;
    table = h.view(epoch, i % 2 === 0 ? others : ["a", "b", "c"]);
    if (i % 2 === 1 && table.backupsOf(p)[0] === "b" && table.ownerOf(p) === owner) break;
  }
  t.is(table.backupsOf(p)[0], "b");
  h.answer.reply = { e: epoch, lease: true, lagMs: 0 };
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "a copy from an earlier stint is not trusted");
  write(h, p, epoch, ["x", "y", "z", "w"], 6);
  t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), 4, "a write since the node became a backup again makes it current");

  // A node that skipped an epoch cannot tell whether it was a backup in it.
  const same = h.view(epoch + 2, ["a", "b", "c"]);
  if (same.backupsOf(p)[0] === "b" && same.ownerOf(p) === owner) {
    h.answer.reply = { e: epoch + 2, lease: true, lagMs: 0 };
    t.is(await h.reader.read(cartType, count, "s1", p, owner, [], h.toOwner), "from the owner", "after a skipped epoch, older copies are not trusted");
  }
});

test("under async, a copy answers only while the mark's age plus the stream's lag stays within maxLagMs", async (t) => {
  const Feed = actorType(defineActor("feed", { state: () => ({ n: 0 }), backup: async({ maxLagMs: 100 }), readFrom: "backup", queries: { n: (ctx) => ctx.state.n } }));
  const n = Feed.handlers.get("n") as NonNullable<ReturnType<typeof Feed.handlers.get>>;
  const h = harness();
  const table = h.view(1, ["a", "b", "c"]);
  const p = partitionOf(table, "b");
  const owner = table.ownerOf(p);
  h.store.apply([{ k: "f", p, t: "feed", i: "s1", s: 1, r: { state: { n: 7 }, timers: [], timerSeq: 0, lastUsed: 0, seq: 1 } }], 1);
  h.answer.reply = { e: 1, lease: true, lagMs: 30 };
  t.is(await h.reader.read(Feed, n, "s1", p, owner, [], h.toOwner), 7);
  h.answer.reply = { e: 1, lease: true, lagMs: 150 }; // from now on the stream to b is stuck
  h.now.t += 60; // 60 + 30 = 90 ≤ 100: still served, and past half the bound, so a new mark is asked for
  t.is(await h.reader.read(Feed, n, "s1", p, owner, [], h.toOwner), 7);
  t.is(h.asked.length, 2);
  await new Promise((r) => setImmediate(r));
  t.is(await h.reader.read(Feed, n, "s1", p, owner, [], h.toOwner), "from the owner", "the new mark shows 150 ms of lag: beyond 100");
  t.is(h.reader.stats.stale, 1);
  h.answer.reply = { e: 1, lease: true, lagMs: 5 };
  t.is(await h.reader.read(Feed, n, "s1", p, owner, [], h.toOwner), 7, "the stream caught up");
});
