import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { createNode, type ClusterNode } from "berth";
import { readStatus } from "../../framework/src/cli/statusCommand.js";
import { Log, LogAsync, LogSyncBackup, LogSyncLog, LogWhole, Timer, TimerSync } from "../fixtures/log-app/app.js";
import { startLoad } from "../helpers/history.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor, type NodeProcess } from "../helpers/nodeProcess.js";

/**
 * The soak run: four `berth node` workers on a 3-server NATS cluster under a steady, paced load
 * of `sync({ backups: 1 })` writes and durable timers, while faults follow one another: a worker
 * killed with -9 and restarted, a worker leaving on SIGTERM and coming back, a NATS server killed
 * and restarted, a worker frozen (SIGSTOP) beyond its lease and woken. After each fault the run
 * waits until the cluster has settled (every worker in the view, up, nothing moving) before the
 * next one.
 *
 * At the end: no acknowledged write lost, none stored twice, each session's order kept; no call
 * failed; every acknowledged timer fired exactly once; no worker that was not a victim exited;
 * nothing logged at fatal level. The worker that is never a victim (w4) has its memory sampled
 * after every settle, and on runs of 5 minutes or more its growth is bounded.
 *
 * `npm test` runs each fault once (about a minute). `npm run test:soak -- --minutes 30` cycles
 * them for 30 minutes.
 */
const MINUTES = Number(process.env.BERTH_SOAK_MINUTES ?? 0);
/** Which faults run, in this order: `BERTH_SOAK_FAULTS=kill,leave,nats,stop` (the default: all). */
const FAULTS = (process.env.BERTH_SOAK_FAULTS ?? "kill,leave,nats,stop").split(",");
/** `BERTH_SOAK_LOGS=<dir>`: workers log at debug level, and every worker's log is written there. */
const LOGS = process.env.BERTH_SOAK_LOGS;
/**
 * `BERTH_SOAK_ACTOR=whole`: the writes go to an actor that answers each with its latest 200
 * tokens, like the demo cart (large kept call outcomes, large records to recover and resync).
 * The default answers with a number.
 */
const WHOLE = process.env.BERTH_SOAK_ACTOR === "whole";
const SESSIONS = 400;
const TIMER_SESSIONS = 100;
const APP = "test/fixtures/log-app";
/** Long runs: what the long-lived worker's resident memory may grow by from its first sample. */
const RSS_GROWTH_LIMIT_MB = 256;

const nats = natsForFile("cluster");
test.afterEach.always(() => killAllNodes());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

test.serial(`soak: faults one after another under load (${MINUTES > 0 ? `${MINUTES} min` : "each fault once"}): nothing acknowledged lost, timers fire once, no node ends`, async (t) => {
  const deadline = MINUTES > 0 ? Date.now() + MINUTES * 60_000 : 0;
  t.timeout(MINUTES > 0 ? MINUTES * 60_000 + 300_000 : 240_000);
  const cluster = uniqueCluster();
  const workers = new Map<string, NodeProcess>();
  const everyWorker: NodeProcess[] = [];
  const ends: string[] = [];
  const start = async (id: string): Promise<void> => {
    const i = Number(id.slice(1)) % nats.urls.length;
    const p = await spawnNode({ app: APP, urls: [nats.urls[i] as string, ...nats.urls.filter((_, j) => j !== i)], cluster, id, ...(LOGS ? { env: { BERTH_LOG_LEVEL: "debug" } } : {}) });
    workers.set(id, p);
    everyWorker.push(p);
    // A worker that ends without being told to is a finding.
    void p.exited.then((code) => {
      if (workers.get(id) === p) ends.push(`${id} (pid ${p.pid}) exited with ${code}:\n${p.output().split("\n").slice(-15).join("\n")}`);
    });
  };
  for (const id of ["w1", "w2", "w3", "w4"]) await start(id);
  const gateway: ClusterNode = await createNode({ actors: [Log, LogSyncBackup, LogSyncLog, LogAsync, LogWhole, Timer, TimerSync], nats: { servers: [...nats.urls] }, cluster, id: "gw", roles: ["gateway"], logger: "warn" });
  t.teardown(() => gateway.stop());

  /**
   * Every worker in the view and up, all partitions owned, nothing moving — by records every
   * worker wrote after the last view change this poll saw (a record is up to ~2 s old: one
   * written before the change says "nothing moving" about the old table). Then a second more,
   * for the new backups' copies to be sent.
   */
  const settled = async (what: string): Promise<number> => {
    let epoch = -1;
    let changedAt = Date.now();
    const ms = await waitFor(async () => {
      await sleep(250);
      try {
        const st = await readStatus([...nats.urls], cluster);
        if (st.epoch !== epoch) {
          epoch = st.epoch;
          changedAt = Date.now();
        }
        const ws = st.members.filter((m) => m.roles.includes("worker"));
        const fresh = ws.every((m) => m.updatedAgoMs !== null && Date.now() - m.updatedAgoMs > changedAt);
        return fresh && ws.length === 4 && ws.every((m) => m.inView && m.state === "up" && m.moving === 0) && ws.reduce((n, m) => n + m.partitions, 0) === gateway.view.table?.partitions;
      } catch {
        return false; // the view does not answer while a NATS server holding it is down
      }
    }, 60_000, `the cluster to settle after ${what}`);
    await sleep(1_000);
    return ms + 1_000;
  };
  await settled("start");

  const sessions = Array.from({ length: SESSIONS }, (_, i) => `soak-${i}`);
  const append = (id: string, token: string): Promise<unknown> => (WHOLE ? gateway.ref(LogWhole, id).append(token) : gateway.ref(LogSyncBackup, id).append(token));
  const tokensOf = (id: string): Promise<string[]> => (WHOLE ? gateway.ref(LogWhole, id).tokens() : gateway.ref(LogSyncBackup, id).tokens());
  await Promise.all(sessions.map((id) => append(id, `${id}#0`)));
  const load = startLoad(sessions, 16, append, "", 20);

  // Timers: armed while the faults run; each acknowledged arm must fire exactly once.
  const armed = new Map<string, string[]>();
  const armFailures: string[] = [];
  let arming = true;
  let lastDue = 0;
  const timers = (async () => {
    for (let n = 0; arming; n++) {
      const id = `soak-timer-${n % TIMER_SESSIONS}`;
      const token = `${id}@${n}`;
      const ms = 100 + ((n * 7919) % 2_900);
      try {
        await gateway.ref(TimerSync, id).arm(ms, token);
        armed.set(id, [...(armed.get(id) ?? []), token]);
        lastDue = Math.max(lastDue, Date.now() + ms);
      } catch (error) {
        armFailures.push(`${token}: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(25);
    }
  })();

  const memory: Array<{ after: string; rssMb: number }> = [{ after: "start", rssMb: rssMb(workers.get("w4")!.pid) }];
  const victims = ["w1", "w2", "w3"];
  const allFaults: Array<{ key: string; name: string; run(round: number): Promise<void> }> = [
    {
      key: "kill",
      name: "kill -9 of a worker, restarted",
      async run(round) {
        const id = victims[round % victims.length] as string;
        const p = workers.get(id)!;
        workers.delete(id);
        p.signal("SIGKILL");
        await p.exited;
        await waitFor(() => !gateway.view.members.some((m) => m.id === id), 15_000, `${id} to leave the view`);
        await sleep(1_000);
        await start(id);
      },
    },
    {
      key: "leave",
      name: "SIGTERM of a worker (graceful leave), restarted",
      async run(round) {
        const id = victims[(round + 1) % victims.length] as string;
        const p = workers.get(id)!;
        workers.delete(id);
        p.signal("SIGTERM");
        const code = await p.exited;
        const said = p.output().split("\n").map((l) => /"msg":"([^"]*)"/.exec(l)?.[1]).filter((m) => m !== undefined).slice(-6);
        done.push(`${id} on SIGTERM said: ${said.join(" / ")}`);
        if (code !== 0) throw new Error(`${id} left with exit code ${code}:\n${p.output().split("\n").slice(-15).join("\n")}`);
        await start(id);
      },
    },
    {
      key: "nats",
      name: "kill -9 of a NATS server, restarted",
      async run(round) {
        const server = nats.servers[round % nats.servers.length]!;
        server.kill("SIGKILL");
        await sleep(2_000);
        await server.restart();
      },
    },
    {
      key: "stop",
      name: "SIGSTOP of a worker beyond its lease, SIGCONT",
      async run(round) {
        const id = victims[(round + 2) % victims.length] as string;
        const p = workers.get(id)!;
        p.signal("SIGSTOP");
        try {
          await waitFor(() => !gateway.view.members.some((m) => m.id === id), 15_000, `frozen ${id} to be declared down`);
        } finally {
          p.signal("SIGCONT");
        }
      },
    },
  ];

  // Who owned each session, as the gateway saw it: printed for a session that lost writes.
  const owners: Array<{ at: number; epoch: number; owner: Map<string, string | null> }> = [];
  const sampler = setInterval(() => {
    const prev = owners[owners.length - 1];
    const now = new Map(sessions.map((id) => [id, gateway.locate(id).owner]));
    if (prev === undefined || prev.epoch !== gateway.view.epoch || sessions.some((id) => prev.owner.get(id) !== now.get(id))) owners.push({ at: Date.now(), epoch: gateway.view.epoch, owner: now });
  }, 20);
  t.teardown(() => clearInterval(sampler));
  // The stored view's epoch, read from NATS (what the gateway's view should follow).
  const storedEpochs: Array<{ at: number; epoch: number }> = [];
  let sampling = true;
  const storedSampler = (async () => {
    while (sampling) {
      const epoch = await readStatus([...nats.urls], cluster).then((st) => st.epoch, () => -1);
      if (storedEpochs[storedEpochs.length - 1]?.epoch !== epoch) storedEpochs.push({ at: Date.now(), epoch });
      await sleep(100);
    }
  })();
  const faults = allFaults.filter((f) => FAULTS.includes(f.key));
  const done: string[] = [];
  const timeline: Array<{ at: number; what: string }> = [];
  for (let round = 0; ; round++) {
    for (const fault of faults) {
      const at = Date.now();
      timeline.push({ at, what: `round ${round}: ${fault.name}` });
      await fault.run(round);
      const settleMs = await settled(fault.name);
      done.push(`${fault.name}: settled ${Date.now() - at} ms after the fault began (${settleMs} ms after it ended)`);
      memory.push({ after: fault.name, rssMb: rssMb(workers.get("w4")!.pid) });
    }
    if (Date.now() >= deadline) break;
  }

  arming = false;
  clearInterval(sampler);
  sampling = false;
  await storedSampler;
  await timers;
  const stats = await load.stop();
  const stored = new Map<string, string[]>();
  for (let i = 0; i < sessions.length; i += 100) {
    const batch = sessions.slice(i, i + 100);
    const lists = await Promise.all(batch.map((s) => tokensOf(s)));
    batch.forEach((s, j) => stored.set(s, lists[j] as string[]));
  }
  for (const id of sessions) (load.history.acked.get(id) ?? load.history.acked.set(id, []).get(id))?.unshift(`${id}#0`);
  const { problems, lost } = load.history.check(stored);

  // Every timer armed is due by `lastDue`; allow a takeover's worth of time beyond it.
  await sleep(Math.max(0, lastDue - Date.now()));
  const fired = new Map<string, string[]>();
  const timerProblems: string[] = [];
  await waitFor(async () => {
    fired.clear();
    for (const id of armed.keys()) fired.set(id, await gateway.ref(TimerSync, id).fired());
    return [...armed].every(([id, tokens]) => tokens.every((tk) => fired.get(id)?.includes(tk)));
  }, 15_000, "every acknowledged timer to fire").catch(() => undefined);
  for (const [id, tokens] of armed) {
    const got = fired.get(id) ?? [];
    for (const tk of tokens) {
      const times = got.filter((x) => x === tk).length;
      if (times !== 1) timerProblems.push(`${tk} fired ${times} times`);
    }
  }

  if (LOGS) {
    mkdirSync(LOGS, { recursive: true });
    for (const p of everyWorker) writeFileSync(join(LOGS, `${p.id}-${p.pid}.log`), p.output());
    t.log(`worker logs in ${LOGS}`);
  }
  const fatal = [...workers.values()].flatMap((p) => p.output().split("\n").filter((l) => l.includes('"level":60')));
  const errors = new Map<string, number>();
  for (const p of workers.values()) for (const l of p.output().split("\n")) if (l.includes('"level":50')) {
    const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 80);
    errors.set(msg, (errors.get(msg) ?? 0) + 1);
  }
  const armedCount = [...armed.values()].reduce((n, x) => n + x.length, 0);
  for (const line of done) t.log(line);
  t.log(`writes: ${stats.acknowledged} acknowledged (${stats.writesPerSec}/s), ${stats.failed} failed, ${lost.length} acknowledged lost; slowest ${stats.maxLatencyMs} ms, p99 ${stats.p99LatencyMs} ms`);
  t.log(`timers: ${armedCount} armed, ${armFailures.length} arms failed, ${timerProblems.length} not fired exactly once`);
  t.log(`w4 resident memory (MB) after each settle: ${memory.map((m) => m.rssMb).join(", ")}`);
  if (errors.size > 0) t.log(`error lines in the current workers' logs: ${[...errors].map(([m, n]) => `${n}× ${m}`).join("; ")}`);
  for (const f of load.history.failures.slice(0, 3)) t.log(`failed: ${f.session} ${f.token}: ${f.error}`);
  // What a loss looked like: per session, what is stored against what was acknowledged, and when the lost writes were acknowledged.
  const faultBefore = (ms: number): string => [...timeline].reverse().find((e) => e.at <= ms)?.what ?? "before the first fault";
  for (const session of [...new Set(lost.map((tk) => tk.split("#")[0] as string))].slice(0, 5)) {
    const list = stored.get(session) ?? [];
    const acked = load.history.acked.get(session) ?? [];
    const gone = acked.filter((tk) => !list.includes(tk));
    const first = load.history.ackedAt.get(gone[0] ?? "") ?? 0;
    const last = load.history.ackedAt.get(gone[gone.length - 1] ?? "") ?? 0;
    const history = owners.filter((o) => o.at >= first - 3_000 && o.at <= last + 3_000).map((o) => `${new Date(o.at).toISOString().slice(11, 23)} e${o.epoch} ${o.owner.get(session)}`);
    t.log(`${session} p${gateway.locate(session).partition} owners around the loss: ${history.join(" | ")}`);
    t.log(`stored view epochs around the loss: ${storedEpochs.filter((o) => o.at >= first - 3_000 && o.at <= last + 3_000).map((o) => `${new Date(o.at).toISOString().slice(11, 23)} e${o.epoch}`).join(" | ")}`);
    t.log(`${session}: stored ${list.length} (${list.slice(0, 3).join(",")} … ${list.slice(-2).join(",")}), acknowledged ${acked.length}, lost ${gone.length}: ${gone[0]} … ${gone[gone.length - 1]}, acknowledged ${new Date(first).toISOString()} (${faultBefore(first)}) … ${new Date(last).toISOString()} (${faultBefore(last)})`);
  }
  if (timerProblems.length > 0) t.log(`timers not fired once: ${timerProblems.slice(0, 5).join("; ")}`);

  t.deepEqual(ends, [], "no worker ended unless it was the fault's victim");
  t.deepEqual(problems.slice(0, 10), [], `${problems.length} problem(s) in the write history`);
  t.deepEqual(lost, []);
  t.is(stats.failed, 0, "no write failed: calls caught by a fault were retried");
  t.deepEqual(armFailures.slice(0, 5), [], "no timer arm failed");
  t.deepEqual(timerProblems.slice(0, 10), [], `${timerProblems.length} timer(s) not fired exactly once`);
  t.deepEqual(fatal, [], "nothing logged at fatal level");
  if (MINUTES >= 5) {
    const growth = (memory[memory.length - 1]?.rssMb ?? 0) - (memory[1]?.rssMb ?? 0);
    t.true(growth <= RSS_GROWTH_LIMIT_MB, `w4's resident memory grew ${growth} MB from its first settle (limit ${RSS_GROWTH_LIMIT_MB} MB)`);
  }
});
