import test from "ava";
import fc from "fast-check";
import { isDeepStrictEqual } from "node:util";
import { NotSerializableError, registerClass } from "berth";
import { applyDelta, type Delta } from "../../framework/src/state/delta.js";
import { serializer } from "../../framework/src/state/serializer.js";
import { commitValue, copyValue } from "../../framework/src/state/walk.js";
import { decodeItems, encodeItem } from "../../framework/src/replication/itemWire.js";

/** A delta as a backup gets it: through the replication wire (itemWire.ts), as one item. */
function overTheWire(delta: Delta): Delta {
  const [item] = decodeItems(encodeItem({ k: "d", p: 1, t: "a", i: "b", s: 1, d: delta, lu: 0 }).map((w) => w.text).join(""));
  if (item?.k !== "d") throw new Error("not a delta item");
  return item.d;
}

class Money {
  constructor(public cents = 0, public currency = "EUR") {}
  add(n: number): void {
    this.cents += n;
  }
}
registerClass(Money, "test-money");

test("copy keeps every supported type and shares nothing", (t) => {
  const value = {
    date: new Date("2026-01-02T03:04:05Z"),
    map: new Map<unknown, unknown>([["a", 1], [2, { deep: [1, 2] }]]),
    set: new Set([1, "x"]),
    big: 12345678901234567890n,
    re: /ab+c/gi,
    url: new URL("https://example.com/a?b=1"),
    money: new Money(250),
    nested: { list: [1, { x: undefined }], nan: Number.NaN, inf: -Infinity, negZero: -0 },
    nullProto: Object.assign(Object.create(null) as object, { k: 1 }),
  };
  const copy = copyValue(value, "state");
  t.true(isDeepStrictEqual(copy, { ...value, nullProto: { k: 1 } }), "null-prototype objects become plain ones, as in superjson");
  t.not(copy.map, value.map);
  t.not(copy.nested.list, value.nested.list);
  t.true(copy.money instanceof Money);
  copy.money.add(1);
  t.is(value.money.cents, 250);
  // Whatever the walker accepts, superjson round-trips.
  t.true(isDeepStrictEqual(serializer.parse(serializer.stringify(copy)), copy));
});

test("copy names the offending field", (t) => {
  class Unregistered {
    x = 1;
  }
  const cases: Array<[unknown, string]> = [
    [{ a: { fn: () => 1 } }, "state.a.fn is a function"],
    [{ list: [1, Symbol("s")] }, "state.list[1] is a symbol"],
    [{ m: new Map([["k", new Unregistered()]]) }, 'state.m.k is an instance of Unregistered'],
    [{ "odd key": new WeakMap() }, 'state["odd key"] is an instance of WeakMap'],
  ];
  for (const [value, message] of cases) {
    const error = t.throws(() => copyValue(value, "state"), { instanceOf: NotSerializableError });
    t.true(error.message.startsWith(message), error.message);
  }
});

test("copy refuses cycles instead of recursing forever", (t) => {
  const a: Record<string, unknown> = {};
  a.self = a;
  const error = t.throws(() => copyValue(a, "state"), { instanceOf: NotSerializableError });
  t.regex(error.message, /nested more than 64 levels deep \(a cycle\?\)/);
  t.true(error.message.includes("state.self.self.self.self.self.self.self.self… (56 levels more)"), error.message);
  t.true(error.message.length < 300, "the path is not repeated 64 times");
});

test("commit returns the previous copy when nothing changed", (t) => {
  const live = { a: 1, b: { c: [1, 2, 3] }, m: new Map([["k", { v: 1 }]]) };
  const prev = copyValue(live, "state");
  const delta: Delta = [];
  const committed = commitValue(live, prev, "state", delta);
  t.is(committed, prev);
  t.deepEqual(delta, []);
});

test("commit shares unchanged subtrees and emits small deltas", (t) => {
  const live = { profile: { name: "ann", tags: ["a"] }, items: new Map([["x", 1]]), log: ["t1"] };
  const prev = copyValue(live, "state");
  live.items.set("y", 2);
  live.log.push("t2", "t3");
  const delta: Delta = [];
  const committed = commitValue(live, prev, "state", delta);
  const c = committed as typeof live;
  t.is(c.profile, prev.profile, "unchanged subtree is shared");
  t.not(c.items, prev.items);
  t.deepEqual(delta, [
    { op: "set", path: ["items", "y"], value: 2 },
    { op: "push", path: ["log"], values: ["t2", "t3"] },
  ]);
  t.true(isDeepStrictEqual(prev.log, ["t1"]), "the previous copy is never mutated");
});

test("commit records deletions of object keys and map entries", (t) => {
  const live: { a?: number; b: number; m: Map<string, number> } = { a: 1, b: 2, m: new Map([["x", 1], ["y", 2]]) };
  const prev = copyValue(live, "state");
  delete live.a;
  live.m.delete("x");
  const delta: Delta = [];
  commitValue(live, prev, "state", delta);
  t.deepEqual(delta, [
    { op: "del", path: ["m", "x"] },
    { op: "del", path: ["a"] },
  ]);
});

// A model of arbitrary state: nested plain objects, arrays and maps (string and number keys, NaN and Infinity among them) of JSON-ish leaves.
const leaf = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null), fc.constant(Number.NaN), fc.date({ noInvalidDate: true }));
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("obj"), tie("arr"), tie("map")),
  obj: fc.dictionary(fc.constantFrom("a", "b", "c", "d"), tie("tree"), { maxKeys: 4, noNullPrototype: true }),
  arr: fc.array(tie("tree"), { maxLength: 4 }),
  map: fc.array(fc.tuple(fc.oneof(fc.constantFrom("k1", "k2", "k3", ""), fc.integer({ min: -2, max: 2 }), fc.constantFrom(1.5, 1e21, -0.25, Number.NaN, Number.POSITIVE_INFINITY)), tie("tree")), { maxLength: 3 }).map((entries) => new Map<unknown, unknown>(entries)),
}));

test("property: applying the delta to the previous copy reproduces the new state", (t) => {
  t.notThrows(() => fc.assert(
    fc.property(tree, tree, (before, after) => {
      const prev = copyValue(before, "state");
      const backup = serializer.parse(serializer.stringify(prev)); // what a backup node holds
      const delta: Delta = [];
      const committed = commitValue(after, prev, "state", delta);
      const shipped = overTheWire(delta);
      const rebuilt = applyDelta(backup, shipped);
      return isDeepStrictEqual(committed, after) && isDeepStrictEqual(rebuilt, after) && isDeepStrictEqual(prev, before);
    }),
    { numRuns: 400 },
  ));
});

test("property: a chain of turns replayed from deltas ends where the state ends", (t) => {
  t.notThrows(() => fc.assert(
    fc.property(fc.array(tree, { minLength: 1, maxLength: 8 }), (states) => {
      let committed: unknown = copyValue(states[0], "state");
      let replica: unknown = serializer.parse(serializer.stringify(committed));
      for (const next of states.slice(1)) {
        const delta: Delta = [];
        committed = commitValue(next, committed, "state", delta);
        replica = applyDelta(replica, overTheWire(delta));
      }
      return isDeepStrictEqual(replica, states[states.length - 1]);
    }),
    { numRuns: 200 },
  ));
});

test("the serializer keeps values a tree: NaN twice survives, and a peer's referential equalities are ignored", (t) => {
  // superjson 2.2 alone files every NaN as one shared object: this map came back empty.
  const value = { m: new Map([[Number.NaN, 1]]), n: Number.NaN, l: [Number.NaN, new Date(0)] };
  t.deepEqual(serializer.parse(serializer.stringify(value)), value);
  // A message that claims two places are one object does not make them one.
  const crafted = { json: { a: { k: 1 }, b: { k: 2 } }, meta: { referentialEqualities: { a: ["b"] }, v: 1 } };
  const back = serializer.deserialize(crafted) as { a: { k: number }; b: { k: number } };
  t.not(back.a, back.b);
  t.deepEqual(back, { a: { k: 1 }, b: { k: 2 } });
});

// Superjson refuses fields named `__proto__`, `constructor` and `prototype` (moves, snapshots
// and full records go through it): a state holding one was committed, then could not be moved.
// And JSON.parse makes `__proto__` an ordinary field, which an assignment in the copy turned
// into the copy's prototype. The walker refuses them at the turn, naming the field.
test("fields superjson refuses are refused at the turn, and a delta path cannot leave the state", (t) => {
  for (const key of ["__proto__", "constructor", "prototype"]) {
    const value = JSON.parse(`{"a":{"${key}":{"x":1}}}`) as Record<string, unknown>;
    t.throws(() => copyValue(value, "state"), { instanceOf: NotSerializableError, message: new RegExp(`state\\.a\\.${key} is a field named ${key}`) });
    const prev = copyValue({ a: { b: 1 } }, "state");
    const live = { a: JSON.parse(`{"b":1,"${key}":2}`) as unknown };
    t.throws(() => commitValue(live, prev, "state", []), { instanceOf: NotSerializableError }, `a new field ${key}`);
    t.throws(() => copyValue([JSON.parse(`{"${key}":1}`)], "args"), { instanceOf: NotSerializableError });
  }
  // A step through an inherited `__proto__` would reach Object.prototype: refused, nothing polluted.
  t.throws(() => applyDelta({ a: {} }, [{ op: "set", path: ["a", "__proto__", "polluted"], value: 1 }]), { message: /names __proto__/ });
  t.throws(() => applyDelta({ a: {} }, [{ op: "set", path: ["a", "constructor", "polluted"], value: 1 }]), { message: /does not exist/ });
  t.throws(() => applyDelta({ a: {} }, [{ op: "push", path: ["a", "constructor"], values: [1] }]), { message: /non-array/ });
  t.is(({} as Record<string, unknown>)["polluted"], undefined);
});

/*
 * Owned arrays: an actor's commit changes in place the arrays its earlier commits made, as
 * long as the committed tree was not handed out since (Activation.toRecord). The properties:
 * the committed state always equals the live one, a replica fed the deltas stays equal, a tree
 * handed out never changes afterwards, and a commit that fails changes nothing.
 */
type OwnedState = { lists: Record<"a" | "b", unknown[]>; grid: unknown[][]; n: number };
const element = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, -0, Number.NaN, "x", "", null), fc.string({ maxLength: 3 }), fc.record({ q: fc.integer({ min: 0, max: 2 }) }), fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }));
const list = fc.constantFrom("a" as const, "b" as const);
const step = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant("push" as const), l: list, v: fc.array(element, { minLength: 1, maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("set" as const), l: list, i: fc.nat(6), v: element }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("shrink" as const), l: list }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("replace" as const), l: list, v: fc.array(element, { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("grid" as const), r: fc.nat(2), v: element }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("bump" as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("handout" as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("poison" as const), l: list }) },
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

/** Changes `live` as a handler would; false for steps that are not a handler's change. */
function mutate(live: OwnedState, s: Step): boolean {
  switch (s.k) {
    case "push":
      live.lists[s.l].push(...s.v.map((v) => copyValue(v, "v")));
      return true;
    case "set": {
      const arr = live.lists[s.l];
      if (arr.length > 0) arr[s.i % arr.length] = copyValue(s.v, "v");
      return true;
    }
    case "shrink":
      live.lists[s.l].pop();
      return true;
    case "replace":
      live.lists[s.l] = copyValue(s.v, "v");
      return true;
    case "grid":
      while (live.grid.length <= s.r) live.grid.push([]);
      (live.grid[s.r] as unknown[]).push(copyValue(s.v, "v"));
      return true;
    case "bump":
      live.n++;
      return true;
    default:
      return false;
  }
}

test("property: owned arrays change in place, yet nothing handed out changes and a failed commit changes nothing", (t) => {
  t.notThrows(() => fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
      let live: OwnedState = { lists: { a: [], b: [] }, grid: [], n: 0 };
      let committed = commitValue(live, undefined, "state", [], null);
      live = copyValue(committed, "state") as OwnedState;
      let replica: unknown = serializer.parse(serializer.stringify(committed));
      let owned = new WeakSet<object>();
      const handedOut: Array<{ tree: unknown; copy: unknown }> = [];
      for (const s of steps) {
        if (s.k === "handout") {
          handedOut.push({ tree: committed, copy: copyValue(committed, "state") });
          owned = new WeakSet();
          continue;
        }
        if (s.k === "poison") {
          // A commit that fails after some owned array changed: nothing of it may stick.
          const before = copyValue(committed, "state");
          live.n++;
          live.lists.a.push("ok");
          live.lists[s.l].push(() => "not serializable");
          const threw = (() => {
            try {
              commitValue(live, committed, "state", [], owned);
              return false;
            } catch (error) {
              return error instanceof NotSerializableError;
            }
          })();
          if (!threw || !isDeepStrictEqual(committed, before)) return false;
          live = copyValue(committed, "state") as OwnedState; // as the actor's rollback does
          continue;
        }
        mutate(live, s);
        const delta: Delta = [];
        committed = commitValue(live, committed, "state", delta, owned);
        replica = applyDelta(replica, overTheWire(delta));
        if (!isDeepStrictEqual(committed, live) || !isDeepStrictEqual(replica, live)) return false;
        if (handedOut.some((h) => !isDeepStrictEqual(h.tree, h.copy))) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  ));
});

test("owned arrays: an append to a committed list is made in place, and a handed-out tree is copied before it changes", (t) => {
  const owned = new WeakSet<object>();
  const live = { log: ["a"] };
  let committed = commitValue(live, { log: [] }, "state", [], owned) as { log: string[] };
  const first = committed.log;
  t.true(owned.has(first), "the list this commit made is owned");
  live.log.push("b");
  committed = commitValue(live, committed, "state", [], owned) as { log: string[] };
  t.is(committed.log, first, "appended in place: the same array");
  t.deepEqual(committed.log, ["a", "b"]);
  // Handed out (a record was taken): the next commit copies.
  const handed = committed;
  live.log.push("c");
  committed = commitValue(live, committed, "state", [], new WeakSet()) as { log: string[] };
  t.not(committed.log, first);
  t.deepEqual(handed.log, ["a", "b"], "the handed-out tree did not change");
  t.deepEqual(committed.log, ["a", "b", "c"]);
  // Without an owned set (query checks), prev is never changed.
  live.log.push("d");
  const before = committed.log;
  committed = commitValue(live, committed, "state", [], null) as { log: string[] };
  t.not(committed.log, before);
  t.deepEqual(before, ["a", "b", "c"]);
});
