import test from "ava";
import { sync } from "berth";
import type { Activation, CommittedTurn } from "../../framework/src/actor/Activation.js";
import { ReplicationError } from "../../framework/src/errors.js";
import type { EventLog, LogEntry } from "../../framework/src/replication/log/index.js";
import { Replicator } from "../../framework/src/replication/Replicator.js";
import { replicatorDeps } from "../helpers/replicator.js";

/**
 * Under `sync({ log: true })` a turn is confirmed only when the log holds it *and every entry it
 * builds on*: each delta waits for the actor's previous append. Before, turn N+1 could be
 * confirmed while turn N's append was still being retried — and if N then failed for good, the
 * log had a gap that replay stops at, losing N+1 and every confirmed turn after it until the
 * next snapshot (the failed append forced a snapshot only until the next success overwrote it).
 */

interface Appended {
  readonly kind: LogEntry["kind"];
  readonly seq: number;
  readonly epoch: number;
}

/** An event log whose appends the test settles by hand. */
function fakeLog(messagesPerDelta = 1) {
  const appended: Appended[] = [];
  const settle = new Map<number, { ok(): void; fail(): void }>();
  const log = {
    append(entry: LogEntry) {
      appended.push({ kind: entry.kind, seq: entry.seq, epoch: entry.epoch });
      return new Promise<{ streamSeq: number }>((resolve, reject) => {
        settle.set(entry.seq, { ok: () => resolve({ streamSeq: entry.seq }), fail: () => reject(new Error("the stream has no leader")) });
      });
    },
    messagesFor: () => messagesPerDelta,
    messagesBetweenSnapshots: 32,
    purgeActor: () => Promise.resolve(),
    stats: () => ({ appendLatencyP50Ms: 0, appendLatencyP99Ms: 0 }),
  } as unknown as EventLog;
  return { log, appended, settle: (seq: number) => settle.get(seq) as { ok(): void; fail(): void } };
}

function setup(messagesPerDelta = 1) {
  const f = fakeLog(messagesPerDelta);
  let epoch = 3;
  const replicator = new Replicator(replicatorDeps({ table: () => null, epoch: () => epoch, ownershipEpoch: () => epoch, eventLog: () => f.log }));
  const type = { name: "order", backup: sync({ log: true }) };
  const act = { type, id: "o1", partition: 7, timers: [], timerSeq: 0, lastUsed: 1, toRecord: () => ({ state: { n: 0 }, timers: [], timerSeq: 0, lastUsed: 1 }) } as unknown as Activation;
  const turn = (seq: number): Promise<void> => {
    const t: CommittedTurn = { act, handler: "inc", seq, call: undefined, delta: [{ op: "set", path: ["n"], value: seq }], timersChanged: false, destroyed: false };
    return replicator.committed(t) as Promise<void>;
  };
  return { ...f, replicator, turn, setEpoch: (e: number) => (epoch = e) };
}

/** Whether `p` has settled, and how, after pending callbacks ran. */
async function stateOf(p: Promise<void>): Promise<"pending" | "ok" | "failed"> {
  let s: "pending" | "ok" | "failed" = "pending";
  p.then(
    () => (s = "ok"),
    () => (s = "failed"),
  );
  await new Promise((r) => setImmediate(r));
  return s;
}

test("a delta is confirmed only after the actor's previous append is", async (t) => {
  const { turn, settle, replicator } = setup();
  const first = turn(1);
  const second = turn(2);
  settle(1).ok();
  t.is(await stateOf(first), "ok");
  const third = turn(3);
  settle(3).ok();
  t.is(await stateOf(third), "pending", "turn 3 is in the log, turn 2 is not yet");
  settle(2).ok();
  t.is(await stateOf(second), "ok");
  t.is(await stateOf(third), "ok");
  replicator.close();
});

test("when an append fails for good, the turns built on it fail too and the next append is a snapshot", async (t) => {
  const { turn, settle, appended, replicator } = setup();
  const first = turn(1);
  settle(1).ok();
  await first;
  const second = turn(2);
  const third = turn(3);
  settle(3).ok(); // landed; its base did not
  settle(2).fail();
  await t.throwsAsync(second, { instanceOf: ReplicationError });
  await t.throwsAsync(third, { instanceOf: ReplicationError }, "confirming 3 would leave a gap at 2 behind it");
  const fourth = turn(4);
  t.deepEqual(appended.at(-1), { kind: "snapshot", seq: 4, epoch: 3 }, "a later success (3) does not hide the failure");
  settle(4).ok();
  t.is(await stateOf(fourth), "ok", "a snapshot stands alone");
  const fifth = turn(5);
  t.is(appended.at(-1)?.kind, "delta");
  settle(5).ok();
  t.is(await stateOf(fifth), "ok");
  replicator.close();
});

test("after the node takes a partition over again, the actor's first append is a snapshot", async (t) => {
  const { turn, settle, appended, replicator, setEpoch } = setup();
  const first = turn(1);
  settle(1).ok();
  await first;
  const second = turn(2);
  settle(2).ok();
  await second;
  t.is(appended.at(-1)?.kind, "delta");
  setEpoch(9); // the partition went to another node and came back: its log may have moved on meanwhile
  const third = turn(3);
  t.deepEqual(appended.at(-1), { kind: "snapshot", seq: 3, epoch: 9 });
  settle(3).ok();
  await third;
  replicator.close();
});

test("snapshots come often enough that the last one stays within the log's per-actor retention", async (t) => {
  // One-message deltas: a snapshot every 33 turns (32 deltas between). Deltas in pieces count as many.
  for (const [perDelta, every] of [
    [1, 33],
    [10, 4],
  ] as const) {
    const { turn, settle, appended, replicator } = setup(perDelta);
    for (let seq = 1; seq <= 2 * every + 1; seq++) {
      const p = turn(seq);
      settle(seq).ok();
      await p;
    }
    const snapshots = appended.filter((a) => a.kind === "snapshot").map((a) => a.seq);
    t.deepEqual(snapshots, [1, 1 + every, 1 + 2 * every], `${perDelta} message(s) per delta`);
    replicator.close();
  }
});
