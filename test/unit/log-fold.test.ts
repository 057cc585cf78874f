import test from "ava";
import pino from "pino";
import { encodeEntry, encodeMarker, encodePieces } from "../../framework/src/replication/log/codec.js";
import { PartitionFold, type RawMessage } from "../../framework/src/replication/log/fold.js";
import { actorSubject, markerSubject } from "../../framework/src/replication/log/subjects.js";
import type { LogEntry } from "../../framework/src/replication/log/types.js";
import { rebuildFromLog } from "../../framework/src/replication/logRecords.js";
import { stringify } from "../../framework/src/state/serializer.js";

/**
 * The fold orders an actor's deltas by sequence, whatever order they landed in: an append
 * retried through a JetStream leader election can be stored after the appends that followed
 * it. Before, replay stopped at the first entry out of order and lost every acknowledged turn
 * after it; a late snapshot also threw away the newer deltas stored before it.
 */

const CLUSTER = "c1";
const P = 5;
const log = pino({ level: "silent" });

let streamSeq = 0;
function msg(kind: LogEntry["kind"], seq: number, payload: unknown, epoch = 1, actorId = "a"): RawMessage {
  const entry: LogEntry = { kind, actorType: "cart", actorId, partition: P, epoch, seq, payload: Buffer.from(stringify(payload)) };
  return { subject: actorSubject(CLUSTER, P, "cart", actorId), streamSeq: ++streamSeq, data: encodeEntry(entry) };
}
const snapshot = (seq: number, items: string[], epoch = 1) => msg("snapshot", seq, { state: { items }, timers: [], timerSeq: 0, lastUsed: seq }, epoch);
const push = (seq: number, item: string, epoch = 1) => msg("delta", seq, { d: [{ op: "push", path: ["items"], values: [item] }], lu: seq }, epoch);
const marker = (epoch: number): RawMessage => ({ subject: markerSubject(CLUSTER, P), streamSeq: ++streamSeq, data: encodeMarker(epoch, "n2") });

function fold(messages: RawMessage[]) {
  const f = new PartitionFold(`berth.${CLUSTER}.log.`, P, 100);
  for (const m of messages) f.add(m);
  const entries = f.result().get("cart/a") ?? [];
  const rebuilt = rebuildFromLog(f.result(), log)[0]?.record;
  return { order: entries.map((e) => `${e.kind[0]}${e.seq}`), state: rebuilt?.state, seq: rebuilt?.seq };
}

test("a delta retried after its successor landed is replayed in sequence order", (t) => {
  const r = fold([snapshot(1, ["x"]), push(3, "z"), push(4, "w"), push(2, "y")]);
  t.deepEqual(r.order, ["s1", "d2", "d3", "d4"]);
  t.deepEqual(r.state, { items: ["x", "y", "z", "w"] });
  t.is(r.seq, 4);
});

test("a snapshot that lands after newer deltas keeps them; one older than the snapshot read is superseded", (t) => {
  // Turn 32 wrote a snapshot, retried; turns 33 and 34 landed first.
  const late = fold([snapshot(1, ["a"]), push(33, "c"), push(34, "d"), snapshot(32, ["a", "b"])]);
  t.deepEqual(late.order, ["s32", "d33", "d34"]);
  t.deepEqual(late.state, { items: ["a", "b", "c", "d"] });
  // An older snapshot landing after a newer one changes nothing.
  const older = fold([snapshot(32, ["a", "b"]), push(33, "c"), snapshot(1, ["a"])]);
  t.deepEqual(older.order, ["s32", "d33"]);
  t.deepEqual(older.state, { items: ["a", "b", "c"] });
});

test("deltas at or below the snapshot, and a destroyed history's late deltas, are dropped", (t) => {
  const stale = fold([snapshot(10, ["s"]), push(9, "old"), push(11, "new")]);
  t.deepEqual(stale.order, ["s10", "d11"]);
  t.deepEqual(stale.state, { items: ["s", "new"] });
  const destroyed = fold([snapshot(1, ["a"]), msg("tombstone", 3, {}), push(2, "late")]);
  t.deepEqual(destroyed.order, [], "the tombstone ended the history; the late delta belonged to it");
  t.is(destroyed.state, undefined);
});

test("a new owner's snapshot supersedes a deposed owner's higher sequences of an older epoch", (t) => {
  // Epoch 1 wrote up to 6 before the takeover marker; the epoch-2 owner recovered at 5 and wrote a snapshot.
  const r = fold([snapshot(1, ["a"]), push(5, "e"), push(6, "never acknowledged"), marker(2), snapshot(5, ["a", "e"], 2), push(6, "f", 2)]);
  t.deepEqual(r.order, ["s5", "d6"]);
  t.deepEqual(r.state, { items: ["a", "e", "f"] });
});

test("a real gap still stops replay at the last entry that follows on", (t) => {
  const r = fold([snapshot(1, ["a"]), push(2, "b"), push(4, "d")]);
  t.deepEqual(r.order, ["s1", "d2", "d4"]);
  t.deepEqual(r.state, { items: ["a", "b"] });
  t.is(r.seq, 2);
});

/** An entry stored in pieces of `part` bytes: one raw message per piece. */
function pieces(kind: LogEntry["kind"], seq: number, payload: unknown, part: number, epoch = 1): RawMessage[] {
  const entry: LogEntry = { kind, actorType: "cart", actorId: "a", partition: P, epoch, seq, payload: Buffer.from(stringify(payload)) };
  return encodePieces(entry, part).map((data) => ({ subject: actorSubject(CLUSTER, P, "cart", "a"), streamSeq: ++streamSeq, data }));
}
const bigState = (seq: number, n: number) => ({ state: { items: Array.from({ length: n }, (_, i) => `item-${i}`) }, timers: [], timerSeq: 0, lastUsed: seq });

test("an entry stored in pieces is read as one, whatever order its pieces landed in", (t) => {
  const parts = pieces("snapshot", 1, bigState(1, 200), 500);
  t.true(parts.length > 3);
  const shuffled = [parts[2], parts[0], ...parts.slice(3).reverse(), parts[1]] as RawMessage[];
  const r = fold([...shuffled, push(2, "more")]);
  t.deepEqual(r.order, ["s1", "d2"]);
  t.is((r.state as { items: string[] }).items.length, 201);
  t.is((r.state as { items: string[] }).items[199], "item-199");
});

test("a snapshot whose pieces did not all land is not used: the last complete one is", (t) => {
  const complete = pieces("snapshot", 1, bigState(1, 50), 300);
  const partial = pieces("snapshot", 3, bigState(3, 60), 300).slice(0, -1); // its writer died before the last piece
  const r = fold([...complete, push(2, "b"), ...partial]);
  t.deepEqual(r.order, ["s1", "d2"]);
  t.is((r.state as { items: string[] }).items.length, 51);
});

test("a piece that contradicts the other pieces of its entry, or is malformed, is skipped and counted", (t) => {
  const parts = pieces("snapshot", 1, bigState(1, 50), 300);
  const other = pieces("snapshot", 1, bigState(1, 300), 300); // same (epoch, seq), another piece count
  const f = new PartitionFold(`berth.${CLUSTER}.log.`, P, 100);
  const garbage = new Uint8Array(parts[0]?.data ?? []);
  garbage[22] = 0;
  garbage[23] = 0; // n = 0
  for (const m of [parts[0], other[other.length - 1], { ...(parts[1] as RawMessage), data: garbage }, ...parts.slice(1)] as RawMessage[]) f.add(m);
  t.not(other.length, parts.length);
  t.is(f.malformed, 2);
  t.is(f.result().get("cart/a")?.[0]?.seq, 1, "the consistent pieces still make the entry");
});
