import test from "ava";
import { async, sync, ConfigError, type BackupPolicy } from "berth";
import type { Activation, CommittedTurn } from "../../framework/src/actor/Activation.js";
import { decodeItems } from "../../framework/src/replication/itemWire.js";
import { Replicator } from "../../framework/src/replication/Replicator.js";
import { replicatorDeps } from "../helpers/replicator.js";

/**
 * Background deltas linger (up to the policy's `lingerMs`) so that later ones share their
 * message to the backup; anything a reply waits for leaves at once and takes the lingering ones
 * along. The fake backup records each message it gets and holds every item.
 */

function setup() {
  const messages: Array<{ at: number; items: number }> = [];
  const replicator = new Replicator(replicatorDeps({
    sendItems: (_target, _head, items) => {
      messages.push({ at: Date.now(), items: decodeItems(items.join("")).length });
      return Promise.resolve({ needFull: [] });
    },
    syncTimeoutMs: 60_000,
  }));
  const seqs = new Map<string, number>();
  const turn = (backup: BackupPolicy, id: string): Promise<void> | undefined => {
    const seq = (seqs.get(id) ?? 0) + 1;
    seqs.set(id, seq);
    const act = { type: { name: "log", backup }, id, partition: 3, timers: [], timerSeq: 0, lastUsed: 1 } as unknown as Activation;
    const t: CommittedTurn = { act, handler: "append", seq, call: undefined, delta: [{ op: "push", path: ["tokens"], values: [`${id}#${seq}`] }], timersChanged: false, destroyed: false };
    return replicator.committed(t);
  };
  return { replicator, messages, turn };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("background deltas wait up to lingerMs and then leave together in one message", async (t) => {
  const { replicator, messages, turn } = setup();
  t.teardown(() => replicator.close());
  const policy = async({ maxLagMs: 1000, lingerMs: 60 });
  const start = Date.now();
  for (let i = 0; i < 5; i++) t.is(turn(policy, `a${i}`), undefined, "the reply does not wait");
  await sleep(20);
  t.is(messages.length, 0, "nothing left before the first delta was due");
  t.true(replicator.lagTo("b1") >= 15, `the lag counts the lingering: ${replicator.lagTo("b1")} ms`);
  await sleep(120);
  t.is(messages.length, 1);
  t.is(messages[0]?.items, 5, "the five deltas shared one message");
  t.true((messages[0]?.at ?? 0) - start >= 55, `it left when due, after ${(messages[0]?.at ?? 0) - start} ms`);
  t.is(replicator.lagTo("b1"), 0, "held: no lag left");
});

test("a sync delta leaves at once and takes the lingering background deltas with it", async (t) => {
  const { replicator, messages, turn } = setup();
  t.teardown(() => replicator.close());
  for (let i = 0; i < 3; i++) turn(async({ lingerMs: 500, maxLagMs: 5000 }), `a${i}`);
  const started = Date.now();
  await turn(sync({ backups: 1 }), "s1");
  t.true(Date.now() - started < 200, "the sync reply did not wait for the linger");
  t.is(messages.length, 1);
  t.is(messages[0]?.items, 4, "one message: three background deltas and the sync one");
});

test("lingerMs 0 sends in the turn that committed, as before", async (t) => {
  const { replicator, messages, turn } = setup();
  t.teardown(() => replicator.close());
  turn(async({ lingerMs: 0 }), "a");
  turn(async({ lingerMs: 0 }), "b");
  await new Promise((r) => setImmediate(r));
  t.is(messages.length, 1);
  t.is(messages[0]?.items, 2);
});

test("a queue that fills a message leaves before it is due", async (t) => {
  const { replicator, messages, turn } = setup();
  t.teardown(() => replicator.close());
  const policy = async({ maxLagMs: 60_000, lingerMs: 10_000 });
  for (let i = 0; i < 300; i++) turn(policy, `a${i}`);
  await sleep(20);
  t.is(messages.length, 1, "a full enough message did not linger");
  t.is(messages[0]?.items, 300);
});

test("async() validates lingerMs and defaults it to maxLagMs / 5, at most 20 ms", (t) => {
  t.is(async().lingerMs, 20);
  t.is(async({ maxLagMs: 50 }).lingerMs, 10);
  t.is(async({ maxLagMs: "2s", lingerMs: "5ms" }).lingerMs, 5);
  t.is(async({ lingerMs: 0 }).lingerMs, 0);
  t.throws(() => async({ maxLagMs: 100, lingerMs: 100 }), { instanceOf: ConfigError, message: /below maxLagMs/ });
  t.throws(() => async({ lingerMs: -1 }), { instanceOf: ConfigError });
  t.is(sync({ backups: 1 }).lingerMs, undefined, "sync policies never linger");
});

test("a move asking whether a partition is pending sends its lingering deltas at once", async (t) => {
  const { replicator, messages, turn } = setup();
  t.teardown(() => replicator.close());
  turn(async({ maxLagMs: 60_000, lingerMs: 10_000 }), "a");
  await sleep(10);
  t.is(messages.length, 0, "lingering");
  t.true(replicator.pending(3), "the partition's delta is not confirmed yet");
  await sleep(10);
  t.is(messages.length, 1, "sent as soon as someone waited for it");
  t.false(replicator.pending(3), "confirmed: the move may go on");
});
