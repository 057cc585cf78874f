import test from "ava";
import { BackupStore } from "../../framework/src/replication/BackupStore.js";
import type { ReplItem } from "../../framework/src/replication/items.js";
import { checkItems, encodeItem } from "../../framework/src/replication/itemWire.js";

const record = (n: number, seq: number) => ({ state: { n }, timers: [], timerSeq: 0, lastUsed: 1, seq });
const full = (seq: number, n: number): ReplItem => ({ k: "f", p: 3, t: "c", i: "a", s: seq, r: record(n, seq) });
const delta = (seq: number, n: number): ReplItem => ({ k: "d", p: 3, t: "c", i: "a", s: seq, d: [{ op: "set", path: ["n"], value: n }], lu: seq });
const stateOf = (store: BackupStore): unknown => store.entries(3)[0]?.record.state;

test("deltas apply in sequence; a gap or a missing copy asks for the full record and applies nothing", (t) => {
  const store = new BackupStore();
  t.deepEqual(store.apply([delta(1, 10)]).needFull, ["c/a"], "no copy yet");
  t.deepEqual(store.apply([full(1, 10), delta(2, 20), delta(3, 30)]).needFull, []);
  t.deepEqual(stateOf(store), { n: 30 });
  t.deepEqual(store.apply([delta(5, 50)]).needFull, ["c/a"], "seq 4 is missing");
  t.deepEqual(stateOf(store), { n: 30 }, "nothing applied past the gap");
  t.is(store.entries(3)[0]?.record.seq, 3);
});

test("resends and full records that overtook deltas are held already (idempotent)", (t) => {
  const store = new BackupStore();
  store.apply([full(1, 10), delta(2, 20)]);
  t.deepEqual(store.apply([delta(2, 20), delta(1, 10)]).needFull, [], "resends at or below the held sequence");
  t.deepEqual(stateOf(store), { n: 20 });
  store.apply([full(5, 50)]);
  t.deepEqual(store.apply([delta(4, 40), delta(3, 30)]).needFull, [], "older than the full record");
  t.deepEqual(stateOf(store), { n: 50 });
  store.apply([full(4, 40)]);
  t.deepEqual(stateOf(store), { n: 50 }, "an older full record does not replace a newer copy");
});

test("a delta that does not fit the copy drops it and asks for the full record; tombstones delete", (t) => {
  const store = new BackupStore();
  store.apply([full(1, 10)]);
  const bad: ReplItem = { k: "d", p: 3, t: "c", i: "a", s: 2, d: [{ op: "push", path: ["n"], values: [1] }], lu: 2 };
  t.deepEqual(store.apply([bad]).needFull, ["c/a"]);
  t.is(store.size, 0, "the diverged copy is gone");
  store.apply([full(3, 30)]);
  t.is(store.size, 1);
  store.apply([{ k: "x", p: 3, t: "c", i: "a", s: 4 }]);
  t.is(store.size, 0);
  t.deepEqual(store.apply([delta(1, 1), delta(2, 2)]).needFull, ["c/a"], "one entry per actor, however many items it had");
});

test("an item too large for one message travels in pieces and is applied once its last piece is in", (t) => {
  const store = new BackupStore();
  const big = "z".repeat(5_000);
  const item: ReplItem = { k: "f", p: 3, t: "c", i: "a", s: 7, r: { ...record(1, 7), state: { big } } };
  const wire = encodeItem(item, 1_000);
  t.true(wire.length >= 5, `${wire.length} pieces`);
  t.deepEqual(wire.map((w) => w.partial), [...wire.slice(1).map(() => true), false]);
  const pieces = checkItems(wire.map((w) => JSON.parse(w.text)));
  t.deepEqual(store.apply(pieces.slice(0, 2)).needFull, []);
  t.is(store.size, 0, "nothing applied before the last piece");
  t.deepEqual(store.apply(pieces.slice(1)).needFull, [], "a resent piece already held is skipped");
  t.deepEqual(store.entries(3)[0]?.record.state, { big });
  // A piece out of order (a lost piece) asks for the full record; nothing is applied.
  const other = new BackupStore();
  t.deepEqual(other.apply([pieces[0]!, pieces[2]!]).needFull, ["c/a"]);
  t.is(other.size, 0);
  // Small items are not cut.
  t.is(encodeItem(delta(1, 1), 1_000).length, 1);
});

test("malformed pieces are refused by validation", (t) => {
  const ok: unknown[] = ["fp", 3, "c", "a", 1, 0, 2, "{"];
  t.notThrows(() => checkItems([ok]));
  const bads: Array<[number, unknown]> = [[6, 1], [6, 100_000], [5, 2], [5, -1], [7, 5], [0, "zz"]];
  for (const [at, value] of bads) {
    const bad = ok.slice();
    bad[at] = value;
    t.throws(() => checkItems([bad]), { name: "MalformedMessageError" }, JSON.stringify(bad));
  }
  t.throws(() => checkItems([{ k: "fp", p: 3, t: "c", i: "a", s: 1, x: 0, n: 2, d: "{" }]), { name: "MalformedMessageError" }, "an item must be a tuple");
});

const roundTrip = (item: ReplItem): ReplItem => checkItems(encodeItem(item).map((w) => JSON.parse(w.text) as unknown))[0] as ReplItem;

test("items round-trip through their wire form: every kind, every op, calls, timers, and values that need superjson", (t) => {
  const at = 1_700_000_000_000;
  const items: ReplItem[] = [
    delta(4, 40),
    { k: "d", p: 9, t: "cart", i: "u/1", s: 2, d: [{ op: "push", path: ["items"], values: ["a", { n: 1 }] }, { op: "del", path: ["gone", 3] }], c: { id: "gw.1", at: at + 5, ok: true, value: 2 }, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 3, d: [], c: { id: "gw.2", at, ok: false, value: { code: "X", message: "no" } }, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 4, d: [], c: { id: "gw.3", at, ok: true }, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 5, d: [], tm: [{ id: "t1", due: at + 10, handler: "tick", args: [1] }], ts: 2, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 6, d: [{ op: "set", path: ["when"], value: new Date(at) }, { op: "set", path: ["m"], value: new Map([["k", undefined]]) }], lu: at },
    full(7, 70),
    { k: "x", p: 3, t: "c", i: "a", s: 8 },
  ];
  for (const item of items) t.deepEqual(roundTrip(item), item, JSON.stringify(item));
});

test("malformed delta items are refused with MalformedMessageError, naming the field", (t) => {
  const good = ["d", 3, "c", "a", 1, 5, [[0, ["n"], 1]], ["id", 0, 1, 2]];
  t.notThrows(() => checkItems([good]));
  const bads: unknown[] = [
    ["d", 3, "c", "a", 1, 5],
    ["d", 3, "c", "a", 1, "5", []],
    ["d", 3, "c", "a", 1, 5, [[7, ["n"], 1]]],
    ["d", 3, "c", "a", 1, 5, [[0, "n", 1]]],
    ["d", 3, "c", "a", 1, 5, [[0, [{}], 1]]],
    ["d", 3, "c", "a", 1, 5, [[2, ["n"], 1]]],
    ["d", 3, "c", "a", 1, 5, [], ["id", 0, 2]],
    ["d", 3, "c", "a", 1, 5, [], ["", 0, 1]],
    ["d", 3, "c", "a", 1, 5, [], 0, "timers"],
    ["d", -1, "c", "a", 1, 5, []],
    ["d", 3, "", "a", 1, 5, []],
    ["d", 3, "c", "a", 1.5, 5, []],
    { j: "not a tuple" },
    "d",
  ];
  for (const bad of bads) t.throws(() => checkItems([bad]), { name: "MalformedMessageError" }, JSON.stringify(bad));
});
