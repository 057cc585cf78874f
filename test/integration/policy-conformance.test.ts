import test, { type ExecutionContext } from "ava";
import { ActorHandlerError, async, defineActor, none, sync, type BackupPolicy, type ClusterNode, type Duration, type ReplicationPlan } from "berth";
import { createLogger } from "../../framework/src/node/logger.js";
import { rebuildFromLog } from "../../framework/src/replication/logRecords.js";
import { isControlFrame } from "../../framework/src/transport/control.js";
import { sendCall } from "../../framework/src/transport/rpc.js";
import { settled, startClusterNodes } from "../helpers/cluster.js";
import { startLoad } from "../helpers/history.js";
import { startTestNats, uniqueCluster, type TestNats } from "../helpers/nats.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * One conformance suite for every backup policy (STYLE.md: the same tests, not copies). Each
 * policy comes with the contract docs/guides/backup-policies.md states for it, and every
 * scenario below runs against each, on in-process cluster nodes and a real nats-server with
 * JetStream:
 *
 * - reply timing: a sync turn's delta is in its backup's store (or the log) when the reply
 *   arrives; an async reply does not wait for a stalled backup, until the lag passes maxLagMs;
 * - a throwing handler replicates no state; a destroyed actor's copies and log entries go;
 * - the replication of turns nobody waits for (a failed call's outcome, a consumed timer)
 *   failing does not take the node down;
 * - a retried call id runs once;
 * - a graceful leave loses nothing (every policy); a crash of the owner loses nothing
 *   acknowledged (sync), everything (none), at most the lag window (async).
 */

/** The custom policy of docs/guides/backup-policies.md ("Writing your own policy"). */
const SYNC: ReplicationPlan = { syncBackups: 1, asyncBackups: 0, syncLog: false, asyncLog: false };
const ASYNC: ReplicationPlan = { syncBackups: 0, asyncBackups: 1, syncLog: false, asyncLog: false };
const checkoutSync: BackupPolicy = {
  name: "checkout-sync",
  replicates: true,
  maxLagMs: 500,
  hotBackups: 1,
  plan: (turn) => (turn.handler.startsWith("checkout") ? SYNC : ASYNC),
};

/** What a policy promises for the turns of one handler. */
interface TurnContract {
  /** The first hot backup holds the delta when the reply arrives. */
  readonly syncBackup: boolean;
  /** The event log holds the delta when the reply arrives. */
  readonly syncLog: boolean;
  /** The first hot backup gets the delta after the reply, within the lag bound. */
  readonly asyncBackup: boolean;
  /** What a crash of the owner may lose of acknowledged turns. */
  readonly crashLoses: "nothing" | "everything" | "the lag window";
}

interface Contract {
  readonly title: string;
  readonly policy: BackupPolicy;
  /** For the plain `append` handler and the `checkoutAppend` handler. */
  readonly append: TurnContract;
  readonly checkout: TurnContract;
}

const NOTHING_REPLICATED: TurnContract = { syncBackup: false, syncLog: false, asyncBackup: false, crashLoses: "everything" };
const SYNC_BACKUP: TurnContract = { syncBackup: true, syncLog: false, asyncBackup: false, crashLoses: "nothing" };
const SYNC_LOG: TurnContract = { syncBackup: false, syncLog: true, asyncBackup: false, crashLoses: "nothing" };
const ASYNC_BACKUP: TurnContract = { syncBackup: false, syncLog: false, asyncBackup: true, crashLoses: "the lag window" };

const CONTRACTS: readonly Contract[] = [
  { title: "none()", policy: none(), append: NOTHING_REPLICATED, checkout: NOTHING_REPLICATED },
  { title: "async({ maxLagMs: 100 })", policy: async({ maxLagMs: 100 }), append: ASYNC_BACKUP, checkout: ASYNC_BACKUP },
  { title: "sync({ backups: 1 })", policy: sync({ backups: 1 }), append: SYNC_BACKUP, checkout: SYNC_BACKUP },
  { title: "sync({ log: true })", policy: sync({ log: true }), append: SYNC_LOG, checkout: SYNC_LOG },
  { title: "custom checkout-sync", policy: checkoutSync, append: ASYNC_BACKUP, checkout: SYNC_BACKUP },
];

type Handler = "append" | "checkoutAppend";

function conformanceActor(name: string, backup: BackupPolicy, lifetime: { idleTimeout?: Duration; expireAfter?: Duration } = {}) {
  return defineActor(name, {
    state: () => ({ tokens: [] as string[] }),
    backup,
    ...lifetime,
    handlers: {
      append(ctx, token: string) {
        ctx.state.tokens.push(token);
        return ctx.state.tokens.length;
      },
      checkoutAppend(ctx, token: string) {
        ctx.state.tokens.push(token);
        return ctx.state.tokens.length;
      },
      fail(ctx, token: string) {
        ctx.state.tokens.push(token);
        throw new Error(`refused ${token}`);
      },
      destroy(ctx) {
        ctx.destroy();
      },
      arm(ctx, ms: number) {
        ctx.schedule.after(ms, "boom");
      },
      boom() {
        throw new Error("the timer's handler failed");
      },
    },
    queries: {
      tokens: (ctx) => ctx.state.tokens,
    },
  });
}
type ConformanceActor = ReturnType<typeof conformanceActor>;

const ACTORS = new Map<Contract, ConformanceActor>(CONTRACTS.map((c, i) => [c, conformanceActor(`conf${i}`, c.policy)]));
/** The same actors with a short life: passivated after 100 ms idle, deleted after 300 ms. */
const EXPIRING = new Map<Contract, ConformanceActor>(CONTRACTS.map((c, i) => [c, conformanceActor(`brief${i}`, c.policy, { idleTimeout: "100ms", expireAfter: "300ms" })]));
const PARTITIONS = 16;
const silent = createLogger({ level: "silent" });

let nats: TestNats;
const started: ClusterNode[] = [];
const steadyClusters = new Map<Contract, Promise<ClusterNode[]>>();
test.before(async () => {
  nats = await startTestNats("single");
});
test.after.always(async () => {
  await Promise.all(started.map((n) => n.stop().catch(() => undefined)));
  await nats?.stop();
});

function startCluster(c: Contract, count: number): Promise<ClusterNode[]> {
  const nodes: ClusterNode[] = [];
  return startClusterNodes({ count, cluster: uniqueCluster(), urls: nats.urls, actors: [ACTORS.get(c) as ConformanceActor, EXPIRING.get(c) as ConformanceActor], partitions: PARTITIONS }, nodes).finally(() => started.push(...nodes));
}

/** Three nodes per policy, shared by the scenarios that leave the cluster as it was. */
function steady(c: Contract): Promise<ClusterNode[]> {
  let p = steadyClusters.get(c);
  if (p === undefined) steadyClusters.set(c, (p = startCluster(c, 3)));
  return p;
}

interface Placement {
  readonly partition: number;
  readonly owner: ClusterNode;
  /** The first backup (undefined with fewer than two nodes). */
  readonly backup: ClusterNode | undefined;
  /** A node neither owner nor first backup, if any: the caller of the scenario. */
  readonly caller: ClusterNode;
}

function placement(nodes: readonly ClusterNode[], id: string): Placement {
  const n = nodes[0] as ClusterNode;
  const { partition } = n.locate(id);
  const owner = nodes.find((x) => x.id === n.partitionTable.ownerOf(partition)) as ClusterNode;
  const backup = nodes.find((x) => x.id === n.partitionTable.backupsOf(partition)[0]);
  const caller = nodes.find((x) => x !== owner && x !== backup) ?? owner;
  return { partition, owner, backup, caller };
}

/** The tokens the backup's copy holds (null: no copy). */
function backupTokens(c: Contract, at: Placement, id: string, def = ACTORS.get(c) as ConformanceActor): string[] | null {
  const copy = at.backup?.backups.peek(at.partition, def.name, id);
  return copy === undefined ? null : (copy.state as { tokens: string[] }).tokens;
}

/** The tokens the event log rebuilds for the actor (null: no live history). */
async function logTokens(c: Contract, node: ClusterNode, partition: number, id: string, def = ACTORS.get(c) as ConformanceActor): Promise<string[] | null> {
  const log = node.eventLog;
  if (log === null) throw new Error("the node opened no event log");
  const type = def.name;
  const entries = await log.readActor(type, id, partition);
  if (entries.length === 0) return null;
  const [rebuilt] = rebuildFromLog(new Map([[`${type}/${id}`, entries]]), silent);
  return rebuilt === undefined ? null : (rebuilt.record.state as { tokens: string[] }).tokens;
}

/** Waits until the owner has nothing of the partition unconfirmed (async deltas delivered). */
function replicated(at: Placement): Promise<number> {
  return waitFor(() => !at.owner.replicator.pending(at.partition), 5_000, "the owner's replication to settle");
}

function planOf(c: Contract, handler: string): ReplicationPlan {
  return c.policy.plan({ actorType: "x", actorId: "x", handler, destroyed: false });
}

function checkPlanMatchesContract(t: ExecutionContext, c: Contract): void {
  for (const [handler, turn] of [["append", c.append], ["checkoutAppend", c.checkout]] as const) {
    const plan = planOf(c, handler);
    t.is(plan.syncBackups > 0, turn.syncBackup, `${handler}: the plan's sync backups match the contract`);
    t.is(plan.syncLog, turn.syncLog, `${handler}: the plan's sync log matches the contract`);
    t.is(plan.asyncBackups > 0, turn.asyncBackup, `${handler}: the plan's async backups match the contract`);
  }
  t.is(c.policy.replicates, c.append.crashLoses !== "everything");
}

let seq = 0;
const fresh = (what: string): string => `${what}-${seq++}`;

for (const c of CONTRACTS) {
  const def = ACTORS.get(c) as ConformanceActor;

  test.serial(`${c.title}: the reply waits for exactly what the policy promises`, async (t) => {
    t.timeout(30_000);
    checkPlanMatchesContract(t, c);
    const nodes = await steady(c);
    for (const handler of ["append", "checkoutAppend"] as const) {
      const turn = handler === "append" ? c.append : c.checkout;
      const id = fresh(`timing-${handler}`);
      const at = placement(nodes, id);
      const deltasBefore = nodes.reduce((n, x) => n + x.stats().replication.deltas, 0);
      await at.caller.ref(def, id)[handler]("t1");
      // Checked in the same tick the reply arrived: nothing could have landed since.
      const held = backupTokens(c, at, id);
      if (turn.syncBackup) t.deepEqual(held, ["t1"], `${handler}: the backup holds the delta when the reply arrives`);
      if (turn.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id), ["t1"], `${handler}: the log holds the delta when the reply arrives`);
      if (turn.asyncBackup) {
        await waitFor(() => backupTokens(c, at, id)?.length === 1, (c.policy.maxLagMs ?? 0) + 1_000, `${handler}: the async delta to reach the backup`);
      }
      if (!turn.syncBackup && !turn.asyncBackup) {
        await new Promise((r) => setTimeout(r, 200));
        t.true(nodes.every((n) => n.backups.peek(at.partition, def.name, id) === undefined), `${handler}: no node holds a hot copy`);
      }
      if (turn.crashLoses === "everything") {
        t.is(await logTokens(c, at.owner, at.partition, id), null, `${handler}: nothing reached the log`);
        t.is(nodes.reduce((n, x) => n + x.stats().replication.deltas, 0), deltasBefore, `${handler}: nothing was handed to replication`);
      }

      if (!turn.asyncBackup || turn.syncBackup) continue;
      // Async: with the backup stalled, the reply does not wait for it…
      const backup = at.backup as ClusterNode;
      const apply = backup.backups.apply.bind(backup.backups);
      backup.backups.apply = () => {
        throw new Error("backup store stalled (test)");
      };
      try {
        await at.caller.ref(def, id)[handler]("t2");
        t.deepEqual(backupTokens(c, at, id), ["t1"], `${handler}: the reply came while the stalled backup did not have the delta`);
        // …until the lag passes maxLagMs: then a reply waits until its own delta is held.
        await new Promise((r) => setTimeout(r, (c.policy.maxLagMs ?? 0) + 50));
        let done = false;
        const third = at.caller.ref(def, id)[handler]("t3").then(() => (done = true));
        await new Promise((r) => setTimeout(r, 300));
        t.false(done, `${handler}: beyond maxLagMs the reply waits for the backup`);
        backup.backups.apply = apply;
        await third;
        t.deepEqual(backupTokens(c, at, id), ["t1", "t2", "t3"], `${handler}: the waiting reply came once the backup held its delta`);
      } finally {
        backup.backups.apply = apply;
      }
    }
  });

  test.serial(`${c.title}: a throwing handler replicates no state`, async (t) => {
    const nodes = await steady(c);
    const id = fresh("throw");
    const at = placement(nodes, id);
    await at.caller.ref(def, id).checkoutAppend("kept");
    await replicated(at);
    const err = await t.throwsAsync(at.caller.ref(def, id).fail("dropped"), { instanceOf: ActorHandlerError });
    t.regex(err?.message ?? "", /refused dropped/);
    await replicated(at);
    t.deepEqual(await at.caller.ref(def, id).tokens(), ["kept"], "the owner rolled back");
    const copy = backupTokens(c, at, id);
    if (c.checkout.syncBackup || c.checkout.asyncBackup) t.deepEqual(copy, ["kept"], "the backup's copy is as before the throw");
    else t.is(copy, null);
    if (c.checkout.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id), ["kept"], "the log rebuilds the state as before the throw");
  });

  test.serial(`${c.title}: a destroyed actor's backup copies and log entries go away`, async (t) => {
    const nodes = await steady(c);
    const id = fresh("destroy");
    const at = placement(nodes, id);
    await at.caller.ref(def, id).checkoutAppend("a");
    await at.caller.ref(def, id).append("b");
    await replicated(at);
    if (c.append.syncBackup || c.append.asyncBackup) t.deepEqual(backupTokens(c, at, id), ["a", "b"]);
    if (c.append.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id), ["a", "b"]);
    await at.caller.ref(def, id).destroy();
    if (c.append.syncBackup) t.is(backupTokens(c, at, id), null, "the copy is gone when the reply arrives");
    await replicated(at);
    t.true(nodes.every((n) => n.backups.peek(at.partition, def.name, id) === undefined), "no node keeps a copy");
    t.is(await logTokens(c, at.owner, at.partition, id), null, "the log has no live history of it");
    t.deepEqual(await at.caller.ref(def, id).tokens(), [], "the actor starts afresh");

    // The same id written again is a new actor, replicated as the contract says — not mistaken
    // for its predecessor (regression: its sequence restarted, so the predecessor's acknowledgement
    // released a sync reply the backup did not hold, and the log dropped its entries as duplicates).
    await at.caller.ref(def, id).append("again");
    if (c.append.syncBackup) t.deepEqual(backupTokens(c, at, id), ["again"], "the backup holds the new actor's delta when the reply arrives");
    if (c.append.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id), ["again"], "the log holds the new actor's delta when the reply arrives");
    await at.caller.ref(def, id).checkoutAppend("and again");
    await replicated(at);
    if (c.append.syncBackup || c.append.asyncBackup) t.deepEqual(backupTokens(c, at, id), ["again", "and again"]);
    if (c.append.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id), ["again", "and again"]);
  });

  test.serial(`${c.title}: an expired actor's backup copies and log entries go away, and its id starts afresh`, async (t) => {
    const brief = EXPIRING.get(c) as ConformanceActor;
    const nodes = await steady(c);
    const id = fresh("expire");
    const at = placement(nodes, id);
    await at.caller.ref(brief, id).checkoutAppend("a");
    await at.caller.ref(brief, id).append("b");
    await replicated(at);
    if (c.append.syncBackup || c.append.asyncBackup) t.deepEqual(backupTokens(c, at, id, brief), ["a", "b"]);
    const destroyed = at.owner.stats().destroyed;
    await waitFor(() => at.owner.stats().destroyed > destroyed, 5_000, "the actor to expire");
    await replicated(at);
    await waitFor(async () => (await logTokens(c, at.owner, at.partition, id, brief)) === null, 5_000, "its log history to go");
    t.true(nodes.every((n) => n.backups.peek(at.partition, brief.name, id) === undefined), "no node keeps a copy");
    // The id again, soon after: a new actor, replicated as the contract says.
    await at.caller.ref(brief, id).append("again");
    if (c.append.syncBackup) t.deepEqual(backupTokens(c, at, id, brief), ["again"], "the backup holds the new actor's delta when the reply arrives");
    if (c.append.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id, brief), ["again"], "the log holds the new actor's delta when the reply arrives");
    await new Promise((r) => setTimeout(r, 300)); // a late purge of the old history would land by now
    if (c.append.syncLog) t.deepEqual(await logTokens(c, at.owner, at.partition, id, brief), ["again"], "the purge of the old history spared the new one");
    t.deepEqual(await at.caller.ref(brief, id).tokens(), ["again"]);
  });

  test.serial(`${c.title}: a retried call id runs once`, async (t) => {
    const nodes = await steady(c);
    const id = fresh("retry");
    const at = placement(nodes, id);
    const req = { callId: fresh("call"), actorType: def.name, actorId: id, method: "append", args: ["once"], ttlMs: 5_000, epoch: at.caller.view.epoch, from: at.caller.id };
    const dupes = at.owner.stats().duplicateCalls;
    t.is(await sendCall(at.caller.transport, at.owner.id, req), 1);
    t.is(await sendCall(at.caller.transport, at.owner.id, req), 1, "the retry gets the first outcome");
    t.is(at.owner.stats().duplicateCalls, dupes + 1);
    t.deepEqual(await at.caller.ref(def, id).tokens(), ["once"]);
  });

  test.serial(`${c.title}: a failed call's outcome or a consumed timer that cannot be replicated does not take the node down`, async (t) => {
    t.timeout(30_000);
    // Regression: these turns' replication promises were dropped with `void`; when the backup or
    // the log did not confirm (timeout, the node stopping), the rejection went unhandled, which
    // ends a Node process.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    t.teardown(() => void process.off("unhandledRejection", onUnhandled));
    const nodes = await startCluster(c, 3);
    const id = fresh("unconfirmed");
    const at = placement(nodes, id);
    await at.caller.ref(def, id).arm(400);
    // Nothing can be confirmed any more: the backup refuses every batch, the log is closed.
    const backup = at.backup as ClusterNode;
    backup.backups.apply = () => {
      throw new Error("backup store stalled (test)");
    };
    await at.owner.eventLog?.close();
    await new Promise((r) => setTimeout(r, (c.policy.maxLagMs ?? 0) + 50)); // async: past the lag bound, so turns wait
    const started = Date.now();
    await t.throwsAsync(at.caller.ref(def, id).fail("x"), { instanceOf: ActorHandlerError });
    t.true(Date.now() - started < 1_000, "the error reply does not wait for the outcome's replication");
    await waitFor(() => at.owner.stats().timerErrors === 1, 5_000, "the timer to fire and fail");
    await at.owner.crash(); // rejects every replication still waiting
    await new Promise((r) => setTimeout(r, 200));
    t.deepEqual(unhandled.map(String), []);
  });

  const crashLoses = c.append === c.checkout ? c.append.crashLoses : `${c.checkout.crashLoses} of checkout turns, ${c.append.crashLoses} of others`;
  test.serial(`${c.title}: a graceful leave loses nothing; a crash of the owner loses ${crashLoses}`, async (t) => {
    t.timeout(60_000);
    const nodes = await startCluster(c, 4);
    const caller = nodes[0] as ClusterNode;
    const sessions = Array.from({ length: 40 }, (_, i) => `${def.name}-s${i}`);
    // The custom policy's contract differs per handler: even writes are checkout turns.
    const handlerOf = (token: string): Handler => (Number((token.split("#")[1] ?? "").replace(/^\D+/, "")) % 2 === 0 ? "checkoutAppend" : "append");
    const write = (n: ClusterNode) => (session: string, token: string) => n.ref(def, session)[handlerOf(token)](token);

    // 1. Graceful leave of the node owning most sessions: every policy keeps everything.
    const seeded = startLoad(sessions, 8, write(caller), "a");
    await new Promise((r) => setTimeout(r, 300));
    const leaver = busiest(nodes.filter((n) => n !== caller), sessions);
    await leaver.stop();
    const rest = nodes.filter((n) => n !== leaver);
    await waitFor(() => rest.every((n) => !n.view.members.some((m) => m.id === leaver.id)), 10_000, "the leaver to be gone");
    await settled(rest);
    const seedStats = await seeded.stop();
    const afterLeave = await readAll(caller, def, sessions);
    const leave = seeded.history.check(afterLeave);
    t.deepEqual(leave.problems.slice(0, 5), [], `graceful leave: ${leave.problems.length} problem(s)`);
    t.is(seedStats.failed, 0, "no call failed during the graceful leave");

    // 2. A call with an id, answered by the soon-to-crash owner, then replicated.
    const victim = busiest(rest.filter((n) => n !== caller), sessions);
    const retried = sessions.find((s) => caller.locate(s).owner === victim.id) as string;
    const retryToken = `${retried}#retry`;
    const req = { callId: fresh("call"), actorType: def.name, actorId: retried, method: "checkoutAppend", args: [retryToken], ttlMs: 5_000, epoch: caller.view.epoch, from: caller.id };
    await sendCall(caller.transport, victim.id, req);
    await waitFor(() => !victim.replicator.pending(caller.locate(retried).partition), 5_000, "the retried call to be replicated");
    const before = afterLeave.get(retried)?.length ?? 0;

    // 3. A crash of that owner under load (not on the retried session: an actor keeps the
    // outcomes of its last 16 calls, and the load would push the retried one out). For the last
    // 300 ms before it dies, its stream to its backups is stalled (nothing it sends is answered),
    // so the crash meets turns the backups do not have — the case each contract is about.
    const loaded = sessions.filter((s) => s !== retried);
    const victimSessions = new Set(loaded.filter((s) => caller.locate(s).owner === victim.id));
    const load = startLoad(loaded, 8, write(caller), "b");
    await new Promise((r) => setTimeout(r, 500));
    stallControl(victim);
    // The load alone may acknowledge nothing of a lag-window handler during the stall: all 8 of
    // its callers can be waiting on the victim's sync turns. So one write per such handler goes
    // to a session of its own on the victim the moment the stall begins (while the lag is
    // under maxLagMs, so it is acknowledged at once) — a write the crash must then lose.
    const probes = (["append", "checkoutAppend"] as const)
      .filter((handler) => (handler === "append" ? c.append : c.checkout).crashLoses === "the lag window")
      .map((handler) => {
        let k = 0;
        while (caller.locate(`${def.name}-probe-${handler}-${k}`).owner !== victim.id) k++;
        const session = `${def.name}-probe-${handler}-${k}`;
        const token = `${session}#b${handler === "append" ? 1 : 2}`;
        victimSessions.add(session);
        const t0 = performance.now();
        return {
          session,
          done: caller.ref(def, session)[handler](token).then(
            () => load.history.ack(session, token, performance.now() - t0),
            (error: unknown) => load.history.fail(session, token, error),
          ),
        };
      });
    await new Promise((r) => setTimeout(r, 300));
    const crashAt = Date.now();
    await victim.crash();
    const survivors = rest.filter((n) => n !== victim);
    await waitFor(() => survivors.every((n) => !n.view.members.some((m) => m.id === victim.id)), 10_000, "the victim to be declared down");
    // Replies the victim sent just before it died may reach the caller a little later; but
    // once the victim is out of the view only the new owners acknowledge: from then on, nothing
    // acknowledged may be lost.
    const removedAt = Date.now();
    await settled(survivors);
    await new Promise((r) => setTimeout(r, 300));
    const stats = await load.stop();
    await Promise.all(probes.map((p) => p.done));
    // The lists as this load wrote them: the first load's tokens (checked above) left out.
    const first = (tk: string): boolean => tk.includes("#a");
    const stored = new Map([...(await readAll(caller, def, [...loaded, ...probes.map((p) => p.session)]))].map(([s, list]) => [s, list.filter((tk) => !first(tk))]));
    const { problems, lost } = load.history.check(stored);
    const lostBefore = lost.filter((tk) => (load.history.ackedAt.get(tk) ?? 0) <= removedAt);
    t.log(`${c.title}: ${stats.acknowledged} writes acknowledged, ${stats.failed} failed, ${lost.length} acknowledged lost (${victimSessions.size} sessions on the crashed owner)`);
    t.true(lost.every((tk) => victimSessions.has(tk.split("#")[0] as string)), "only the crashed owner's sessions lost anything");
    t.deepEqual(problems.filter((p) => !p.includes(" lost")).slice(0, 5), [], "nothing duplicated, nothing out of order, nothing invented");
    t.deepEqual(lost.filter((tk) => !lostBefore.includes(tk)), [], "nothing acknowledged by the new owners was lost");

    for (const handler of ["append", "checkoutAppend"] as const) {
      const turn = handler === "append" ? c.append : c.checkout;
      const mine = lost.filter((tk) => handlerOf(tk) === handler);
      const acked = [...load.history.ackedAt.keys()].filter((tk) => handlerOf(tk) === handler && victimSessions.has(tk.split("#")[0] as string) && (load.history.ackedAt.get(tk) ?? 0) <= crashAt);
      if (turn.crashLoses === "nothing") t.deepEqual(mine, [], `${handler}: no acknowledged write lost`);
      if (turn.crashLoses === "everything") {
        t.true(acked.length > 0);
        const lostSet = new Set(mine);
        t.deepEqual(acked.filter((tk) => !lostSet.has(tk)), [], `${handler}: every write acknowledged before the crash on the crashed owner's sessions was lost`);
        t.true(victimSessions.size > 0 && [...victimSessions].every((s) => (stored.get(s) ?? []).every((tk) => (load.history.ackedAt.get(tk) ?? Infinity) > crashAt || load.history.uncertain.has(tk))), `${handler}: the crashed owner's sessions restarted empty`);
      }
      if (turn.crashLoses === "the lag window") {
        // A reply is released only while the backup lags by at most maxLagMs, so whatever is lost
        // was acknowledged at most maxLagMs before the owner's last acknowledgement (it stops
        // acknowledging once its stream lags more — here, 100 ms into the stall).
        const maxLag = c.policy.maxLagMs ?? 0;
        const victimAcks = [...load.history.ackedAt].filter(([tk, at]) => victimSessions.has(tk.split("#")[0] as string) && at <= removedAt).map(([, at]) => at);
        const lastAck = Math.max(...victimAcks);
        const oldest = Math.max(0, ...mine.map((tk) => lastAck - (load.history.ackedAt.get(tk) ?? lastAck)));
        t.log(`${handler}: ${mine.length} lost, acknowledged at most ${oldest} ms before the crashed owner's last acknowledgement (${crashAt - lastAck} ms before the crash; maxLagMs ${maxLag})`);
        t.true(mine.length > 0, `${handler}: the stalled stream did lose writes (else this checks nothing)`);
        t.true(oldest <= maxLag + 250, `${handler}: lost writes were acknowledged within the lag window (${oldest} ms)`);
      }
    }

    // 4. The call retried with its id on the new owner.
    const newOwner = survivors.find((n) => n.id === caller.locate(retried).owner) as ClusterNode;
    const dupes = newOwner.stats().duplicateCalls;
    const answer = await sendCall(caller.transport, newOwner.id, { ...req, epoch: caller.view.epoch });
    const tokens = await caller.ref(def, retried).tokens();
    if (c.checkout.crashLoses === "everything") {
      t.true(tokens.includes(retryToken), "under none() the record went with the node: the retry runs again");
      t.is(newOwner.stats().duplicateCalls, dupes);
    } else {
      t.is(answer, before + 1, "the retry got the outcome recorded before the crash");
      t.is(tokens.filter((tk) => tk === retryToken).length, 1, "the call ran once");
      t.is(newOwner.stats().duplicateCalls, dupes + 1);
    }
  });
}

/** Leaves every control message `node` sends unanswered: its replication stream stalls (so do its pulls and read marks). */
function stallControl(node: ClusterNode): void {
  const transport = node.transport;
  const request = transport.request.bind(transport);
  transport.request = (target, payload, timeoutMs) => (isControlFrame(payload) ? new Promise<Uint8Array>(() => undefined) : request(target, payload, timeoutMs));
}

function busiest(candidates: readonly ClusterNode[], sessions: readonly string[]): ClusterNode {
  const counts = new Map<ClusterNode, number>(candidates.map((n) => [n, 0]));
  for (const s of sessions) {
    const owner = candidates.find((n) => n.id === (candidates[0] as ClusterNode).locate(s).owner);
    if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] as ClusterNode;
}

async function readAll(node: ClusterNode, def: ConformanceActor, sessions: readonly string[]): Promise<Map<string, string[]>> {
  const lists = await Promise.all(sessions.map((s) => node.ref(def, s).tokens()));
  return new Map(sessions.map((s, i) => [s, lists[i] as string[]]));
}
