import test from "ava";
import { BackupStore } from "../../framework/src/replication/BackupStore.js";
import type { ReplItem } from "../../framework/src/replication/items.js";

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
