import test from "ava";
import fc from "fast-check";
import { ActivationError, defineActor, registerClass } from "berth";
import { createTestNode } from "berth/testing";
import { PassiveStore } from "../../framework/src/actor/PassiveStore.js";
import { checkSerializedActor } from "../../framework/src/actor/record.js";
import { parse, serializer, stringify } from "../../framework/src/state/serializer.js";
import { partitionOf } from "../../framework/src/placement/partition.js";
import { joinPieces, toChunks } from "../../framework/src/migration/transferChunks.js";
import type { ActorHost } from "../../framework/src/actor/ActorHost.js";
import type { BerthNode } from "../../framework/src/node/BerthNode.js";

/** How actors travel in a move: the serialized form, the partition index, the plain-JSON fast path. */

const Counter = defineActor("counter", {
  state: () => ({ n: 0, seen: new Set<string>() }),
  handlers: {
    add(ctx, by: number, tag: string) {
      ctx.state.n += by;
      ctx.state.seen.add(tag);
      ctx.schedule.after("1h", "add", 0, "timer");
      return ctx.state.n;
    },
  },
  queries: { get: (ctx) => ({ n: ctx.state.n, seen: [...ctx.state.seen].sort() }) },
});

function throws(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
}

function hostOf(node: BerthNode): ActorHost {
  return (node as unknown as { host: ActorHost }).host;
}

test("stringify gives superjson's exact text for plain JSON, and round-trips everything superjson does", (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      let expected: string;
      try {
        expected = serializer.stringify(v);
      } catch {
        // superjson refuses some keys (`__proto__`): so must the fast path.
        return throws(() => stringify(v));
      }
      // -0 is not plain JSON (superjson keeps it): the fast path must leave it to superjson.
      return stringify(v) === expected && JSON.stringify(parse(expected)) === JSON.stringify(serializer.parse(expected));
    }),
    { numRuns: 1000 },
  );
  class Money {
    constructor(public cents = 0) {}
  }
  registerClass(Money, "move-records-money");
  const rich = { at: new Date(5), tags: new Set(["a"]), m: new Map([["k", 1n]]), money: new Money(3), u: undefined, z: -0 };
  const back = parse(stringify(rich)) as typeof rich;
  t.deepEqual(back.at, new Date(5));
  t.deepEqual([...back.tags], ["a"]);
  t.is(back.m.get("k"), 1n);
  t.true(back.money instanceof Money);
  t.true("u" in back);
  t.true(Object.is(back.z, -0));
});

test("PassiveStore keeps passivation order and a partition index that follows every change", (t) => {
  const store = new PassiveStore();
  const entry = (partition: number, n: number) => ({ partition, data: `{"json":${n}}`, lastUsed: n, passivatedAt: n, due: [] as const });
  store.set("a", entry(1, 1));
  store.set("b", entry(2, 2));
  store.set("c", entry(1, 3));
  t.deepEqual(store.idsIn(1).sort(), ["a", "c"]);
  t.deepEqual(store.idsIn(2), ["b"]);
  store.set("a", entry(1, 4)); // re-passivated: moves to the end
  t.deepEqual([...store].map(([id]) => id), ["b", "c", "a"]);
  t.true(store.delete("c"));
  t.false(store.delete("c"));
  t.deepEqual(store.idsIn(1), ["a"]);
  store.set("a", entry(3, 5)); // a partition never changes for an id, but the index must not lie if it did
  t.deepEqual(store.idsIn(1), []);
  t.deepEqual(store.idsIn(3), ["a"]);
  t.is(store.size, 2);
  t.deepEqual(store.idsIn(99), []);
});

test("a partition exported in serialized form and imported elsewhere keeps state and timers, active and passivated actors alike", async (t) => {
  const a = await createTestNode({ actors: [Counter], partitions: 4 });
  const b = await createTestNode({ actors: [Counter], partitions: 4, clock: a.clock });
  const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
  for (const id of ids) await a.ref(Counter, id).add(ids.indexOf(id) + 1, id);
  await hostOf(a).passivateAll();
  for (const id of ids.slice(0, 10)) await a.ref(Counter, id).add(100, "again"); // these are active again
  const p = partitionOf(ids[0] as string, 4);
  const mine = ids.filter((id) => partitionOf(id, 4) === p);
  const moved = hostOf(a).exportSerialized(p);
  t.is(moved.length, mine.length, "every actor of the partition, and only those");
  t.deepEqual(moved.map((m) => m.id).sort(), [...mine].sort());
  for (const m of moved) t.is(checkSerializedActor(JSON.parse(JSON.stringify(m)), 1 << 20).id, m.id, "the wire form validates");
  t.deepEqual(hostOf(b).importSerialized(p, moved), []);
  for (const id of mine) {
    const i = ids.indexOf(id);
    t.deepEqual(await b.ref(Counter, id).get(), { n: i + 1 + (i < 10 ? 100 : 0), seen: (i < 10 ? ["again", id] : [id]).sort() });
  }
  // Each moved actor's timer fires on the new node.
  await b.clock.advance(3_600_001);
  for (const id of mine) t.is((await b.ref(Counter, id).get()).n, ids.indexOf(id) + 1 + (ids.indexOf(id) < 10 ? 100 : 0), "a timer adding 0 ran without changing n");
  t.true(b.stats().timersFired >= mine.length, `timers fired on the new node: ${b.stats().timersFired}`);
  await Promise.all([a.stop(), b.stop()]);
});

test("a malformed moved record is refused when the actor activates, with a clear error, and the node keeps serving", async (t) => {
  const node = await createTestNode({ actors: [Counter], partitions: 4 });
  const p = partitionOf("bad", 4);
  hostOf(node).importSerialized(p, [{ type: "counter", id: "bad", data: '{"json":{"state":{"n":1}}}', lastUsed: 0, due: [] }]);
  const e = await t.throwsAsync(node.ref(Counter, "bad").get());
  t.true(e instanceof ActivationError || e?.name === "MalformedMessageError", `${e?.name}: ${e?.message}`);
  t.regex(e?.message ?? "", /timers|record/);
  t.is(await node.ref(Counter, "good").add(2, "x"), 2, "other actors are unaffected");
  await node.stop();
});

test("checkSerializedActor refuses what a peer must never send", (t) => {
  const good = { type: "counter", id: "x", data: "{}", lastUsed: 1, due: [["t1", 5]] };
  t.notThrows(() => checkSerializedActor(good, 100));
  for (const bad of [null, 5, { ...good, type: "" }, { ...good, id: "x".repeat(300) }, { ...good, data: 7 }, { ...good, data: "x".repeat(101) }, { ...good, lastUsed: Number.NaN }, { ...good, due: "no" }, { ...good, due: [["t1"]] }, { ...good, due: [[1, 2]] }, { ...good, due: [["t", Number.POSITIVE_INFINITY]] }]) {
    t.throws(() => checkSerializedActor(bad, 100), { name: "MalformedMessageError" }, JSON.stringify(bad));
  }
});

test("moves cut an actor larger than a chunk into pieces and join them back; broken sequences are refused", (t) => {
  const actor = (id: string, size: number) => ({ type: "blob", id, data: "x".repeat(size - 1) + id.slice(-1), lastUsed: 1, due: [["t", 2]] as const });
  const actors = [actor("a", 10), actor("b", 2_500), actor("c", 30), actor("d", 1_000)];
  const chunks = toChunks(actors, 1_000);
  for (const c of chunks) {
    const chars = c.reduce((n, a) => n + a.data.length, 0);
    t.true(chars <= 1_000, `a chunk holds ${chars} characters of records`);
  }
  t.is(chunks.flat().filter((a) => a.id === "b").length, 3, "the 2,500-character actor is cut in three");
  t.deepEqual(joinPieces(chunks.flat()), actors.map(({ type, id, data, lastUsed, due }) => ({ type, id, data, lastUsed, due })));
  const pieces = chunks.flat();
  const b = pieces.filter((a) => a.id === "b");
  t.throws(() => joinPieces([b[0]!, b[2]!]), { name: "MalformedMessageError" }, "a missing middle piece");
  t.throws(() => joinPieces([b[0]!, b[1]!]), { name: "MalformedMessageError" }, "a missing last piece");
  t.throws(() => joinPieces([b[1]!, b[2]!]), { name: "MalformedMessageError" }, "no first piece");
  t.throws(() => joinPieces([{ ...b[0]!, part: [0, 1] }]), { name: "MalformedMessageError" }, "a count below 2");
  t.throws(() => joinPieces([b[0]!, { ...b[1]!, id: "other" }, b[2]!]), { name: "MalformedMessageError" }, "pieces of two actors interleaved");
});
