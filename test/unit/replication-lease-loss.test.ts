import test from "ava";
import { ReplicationError, sync } from "berth";
import type { Activation, CommittedTurn } from "../../framework/src/actor/Activation.js";
import type { EventLog } from "../../framework/src/replication/log/index.js";
import { Replicator } from "../../framework/src/replication/Replicator.js";
import { replicatorDeps } from "../helpers/replicator.js";

/**
 * A node that loses its lease can no longer use acknowledgements (a successor may take over), so
 * its sync turns fail at once instead of waiting out their deadline. Here the backup, and the
 * event log, never answer.
 */

function turnOf(id: string, seq: number, log = false): CommittedTurn {
  const backup = sync(log ? { log: true } : { backups: 1 });
  const act = { type: { name: "log", backup }, id, partition: 3, timers: [], timerSeq: 0, lastUsed: 1, toRecord: () => ({ state: {}, timers: [], timerSeq: 0, lastUsed: 1, seq }) } as unknown as Activation;
  return { act, handler: "append", seq, call: undefined, delta: [{ op: "push", path: ["tokens"], values: [`${id}#${seq}`] }], timersChanged: false, destroyed: false };
}

const never = new Promise<never>(() => undefined);

test("sync turns waiting for their backup or the log fail with ReplicationError as soon as the lease is lost", async (t) => {
  let lease = true;
  const silentLog = { append: () => never, stats: () => ({ appendLatencyP50Ms: 0, appendLatencyP99Ms: 0 }), messagesFor: () => 1, messagesBetweenSnapshots: 100 } as unknown as EventLog;
  const replicator = new Replicator(replicatorDeps({ sendItems: () => never, leaseValid: () => lease, eventLog: () => silentLog, syncTimeoutMs: 60_000 }));
  t.teardown(() => replicator.close());
  const settled: string[] = [];
  const backupTurn = replicator.committed(turnOf("a", 1));
  const logTurn = replicator.committed(turnOf("b", 1, true));
  t.truthy(backupTurn, "a sync turn's reply waits");
  t.truthy(logTurn);
  void backupTurn?.catch(() => settled.push("a"));
  void logTurn?.catch(() => settled.push("b"));
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(settled, [], "nothing answered, nothing settled");
  const started = Date.now();
  lease = false;
  replicator.leaseLost();
  const errors = await Promise.all([backupTurn, logTurn].map((p) => t.throwsAsync(p as Promise<void>, { instanceOf: ReplicationError, message: /lease lapsed/ })));
  t.true(Date.now() - started < 100, "they failed at once, not at their 60 s deadline");
  t.regex(errors[0]?.message ?? "", /may or may not have taken effect/);
  t.is(replicator.stats.syncFailures, 1, "the backup waiter counts as a sync failure");
  // Back in touch: new turns wait again (the gate was replaced).
  lease = true;
  const later = replicator.committed(turnOf("a", 2));
  let done = false;
  void later?.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, 50));
  t.false(done, "a turn after the lease came back waits for its acknowledgement as before");
});
