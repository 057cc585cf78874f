import test from "ava";
import { BackupStore, MAX_OPEN_CHARS } from "../../framework/src/replication/BackupStore.js";
import { MAX_PIECES, type ReplItem } from "../../framework/src/replication/items.js";
import { decodeItems, encodeItem, PIECE_CHARS } from "../../framework/src/replication/itemWire.js";

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
  const pieces = decodeItems(wire.map((w) => w.text).join(""));
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
  const piece = (x: string, n: string, text = "1:{"): string => `p3:1:c1:a1:${x}:${n}:${text}`;
  t.notThrows(() => decodeItems(piece("0", "2")));
  const bads = [piece("0", "1"), piece("0", "100000"), piece("2", "2"), piece("-1", "2"), piece("0", "2", "5:{"), piece("0", "2", "0:"), "q3:1:c1:a1:0:2:1:{"];
  for (const bad of bads) t.throws(() => decodeItems(bad), { name: "MalformedMessageError" }, bad);
  t.throws(() => decodeItems([piece("0", "2")]), { name: "MalformedMessageError" }, "items must be one frame string");
});

const roundTrip = (item: ReplItem): ReplItem => {
  const items = decodeItems(encodeItem(item).map((w) => w.text).join(""));
  if (items.length !== 1) throw new Error(`${items.length} items`);
  return items[0] as ReplItem;
};

test("items round-trip through their wire form: every kind, every op, calls, timers, and values that need superjson", (t) => {
  const at = 1_700_000_000_000;
  const items: ReplItem[] = [
    delta(4, 40),
    { k: "d", p: 9, t: "cart", i: "u/1", s: 2, d: [{ op: "push", path: ["items"], values: ["a", { n: 1 }] }, { op: "del", path: ["gone", 3] }], c: { id: "gw.1", at: at + 5, ok: true, value: 2 }, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 3, d: [], c: { id: "gw.2", at, ok: false, value: { code: "X", message: "no" } }, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 4, d: [], c: { id: "gw.3", at, ok: true }, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 5, d: [], tm: [{ id: "t1", due: at + 10, handler: "tick", args: [1] }], ts: 2, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 6, d: [{ op: "set", path: ["when"], value: new Date(at) }, { op: "set", path: ["m"], value: new Map([["k", undefined]]) }], lu: at },
    { k: "d", p: 9, t: "cart", i: "id with : and 4:digits", s: 7, d: [{ op: "set", path: ["", 0, "k:1", "ünï"], value: "x\"y" }, { op: "del", path: [] }], lu: at + 0.5 },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 8, d: [], c: { id: "gw.4", at: at - 3, ok: true, value: [1, "2"] }, tm: [], ts: 0, lu: at },
    { k: "d", p: 9, t: "cart", i: "u/1", s: 9, d: [{ op: "set", path: ["m", -1], value: 1 }, { op: "del", path: ["m", 1.5] }, { op: "push", path: ["m", 1e21, 7], values: [0] }], lu: at },
    full(7, 70),
    { k: "f", p: 3, t: "c", i: "a", s: 9, r: { ...record(1, 9), state: { d: new Date(at), s: new Set([1]) } } },
    { k: "x", p: 3, t: "c", i: "a", s: 8 },
  ];
  for (const item of items) t.deepEqual(roundTrip(item), item, JSON.stringify(item));
  // A batch is the items' texts joined; it reads back in order.
  t.deepEqual(decodeItems(items.map((item) => encodeItem(item)[0]?.text).join("")), items);
});

test("malformed delta items are refused with MalformedMessageError, naming the field", (t) => {
  const good = "d3:1:c1:a1:5:1:s1:k1:n2:j1c2:id0:12:j2-";
  t.notThrows(() => decodeItems(good));
  t.deepEqual(decodeItems(good)[0], { k: "d", p: 3, t: "c", i: "a", s: 1, d: [{ op: "set", path: ["n"], value: 1 }], c: { id: "id", at: 0, ok: true, value: 2 }, lu: 5 });
  const bads: Array<[string, RegExp]> = [
    ["d3:1:c1:a1:5:", /operation count is missing/],
    ["d3:1:c1:a1:x:0:--", /lastUsed/],
    ["d3:1:c1:a1:5:1:z1:k1:n2:j1--", /operation must be/],
    ["d3:1:c1:a1:5:1:s1:q1:n2:j1--", /path step/],
    ["d3:1:c1:a1:5:1:a1:k1:n2:j1--", /appended values must be a list/],
    ["d3:1:c1:a1:5:1:s1:k1:n2:j{--", /value is not valid JSON/],
    ["d3:1:c1:a1:5:0:c2:id0:2-", /call ok/],
    ["d3:1:c1:a1:5:0:c0:0:1--", /call id/],
    ["d3:1:c1:a1:5:0:-t3:j{}0:", /timers must be a list/],
    ["d3:1:c1:a1:5:0:-x", /timers flag/],
    ["d3:1:c1:a1:5:0:-", /timers flag is missing/],
    ["d99999:1:c1:a1:5:0:--", /partition must be at most/],
    ["d3:0:1:a1:5:0:--", /actor type must be a string/],
    ["d3:1:c1:a1.5:5:0:--", /sequence must be a non-negative integer/],
    ["d3:1:c9:a1:5:0:--", /truncated|sequence/],
    ["f3:1:c1:a1:3:j{}", /record has no state/],
    ["z3:1:c1:a1:", /kind must be/],
    ["d3:1:c1:a1:5:0:--garbage", /kind must be|partition/],
  ];
  for (const [bad, message] of bads) t.throws(() => decodeItems(bad), { name: "MalformedMessageError", message }, bad);
  t.throws(() => decodeItems(["d", 3]), { name: "MalformedMessageError" }, "not a frame string");
  t.throws(() => decodeItems(good.repeat(10_001)), { name: "MalformedMessageError", message: /at most 10000 items/ });
});

test("pieces of items that never finish are bounded in characters: the oldest unfinished ones go, and their owners are asked for them in full", (t) => {
  const store = new BackupStore();
  const chunk = "x".repeat(PIECE_CHARS); // one string shared by every piece: the bound counts characters, the test holds little
  const n = MAX_PIECES;
  const perItem = 300;
  const needs: string[] = [];
  for (const id of ["a0", "a1", "a2", "a3"]) {
    for (let x = 0; x < perItem; x++) {
      const reply = store.apply([{ k: "fp", p: 1, t: "log", i: id, s: 1, x, n, d: chunk }]);
      needs.push(...reply.needFull);
      t.true(store.piecesChars <= MAX_OPEN_CHARS, `held ${store.piecesChars} characters after ${id} piece ${x}`);
    }
  }
  t.true(store.piecesChars > 0);
  // a0 was the oldest: its pieces went; its next piece asks for the actor in full.
  const next = store.apply([{ k: "fp", p: 1, t: "log", i: "a0", s: 1, x: perItem, n, d: chunk }]);
  t.deepEqual(next.needFull, ["log/a0"]);
  t.deepEqual(needs, [], "nothing was asked for while the pieces still arrived in order");
});

test("a node removed while alive keeps its copies and owned actors as stale copies: no reads, no deltas, replaced by any full record, dropped after a while", (t) => {
  const store = new BackupStore();
  store.apply([full(1, 10), delta(2, 20)], 7);
  const owned = { type: "c", id: "mine", record: record(99, 9) };
  store.demote([{ partition: 3, entries: [owned] }], 1_000);
  const entries = store.entries(3);
  t.deepEqual(entries.map((e) => [e.id, e.record.seq, e.stale]), [["a", 2, true], ["mine", 9, true]]);
  t.true(store.peek(3, "c", "a")?.behind, "a stale copy answers no backup read");
  t.deepEqual(store.apply([delta(3, 30)]).needFull, ["c/a"], "a delta does not follow on from a stale copy");
  t.deepEqual(stateOf(store), { n: 20 });
  store.apply([full(1, 11)], 9);
  t.deepEqual(store.entries(3)[0], { type: "c", id: "a", record: { ...record(11, 1), calls: [] } }, "a full record replaces it, even at a lower sequence: the copy is current again");
  store.dropStale(30_000, 60_000);
  t.is(store.entries(3).length, 2, "kept for a minute");
  store.dropStale(62_000, 60_000);
  t.deepEqual(store.entries(3).map((e) => e.id), ["a"], "then the stale one goes; the current one stays");
});
