import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { createNode, type ClusterNode } from "berth";
import { startNatsServer } from "../../framework/src/harness/index.js";
import { processCpuMs } from "../../framework/src/harness/processes.js";
import { Log, LogAsync, LogSyncBackup, LogSyncLog, Timer, type LogActor } from "../fixtures/log-app/app.js";
import { startLoad } from "../helpers/history.js";
import { readStatus } from "../../framework/src/cli/statusCommand.js";
import { spawnNode, waitFor } from "../helpers/nodeProcess.js";
import { median, openLoop, quantile, round, throughput } from "./measure.js";
import type { Benchmark, BenchResult } from "./types.js";

/**
 * Cluster benchmarks on one real nats-server, with in-process nodes (they share this process's
 * event loop and the machine's 2 cores with NATS; compare figures within a run). A "kill" is
 * `node.crash()`: the node's connection drops without leaving, as with `kill -9`.
 */

const ACTORS = [Log, LogSyncBackup, LogSyncLog, LogAsync, Timer];

interface Bed {
  readonly workers: ClusterNode[];
  readonly gateway: ClusterNode;
  add(id: string): Promise<ClusterNode>;
  settled(): Promise<void>;
  close(): Promise<void>;
}

async function bed(workers: number): Promise<Bed> {
  const dir = resolve(".berth", `bench-cluster-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const server = await startNatsServer({ dir });
  const cluster = `bench${Date.now().toString(36)}`;
  const all: ClusterNode[] = [];
  const mk = async (id: string, role: "worker" | "gateway"): Promise<ClusterNode> => {
    const n = await createNode({ actors: ACTORS, nats: { servers: [server.url] }, cluster, id, roles: [role], logger: "error" });
    all.push(n);
    return n;
  };
  const ws: ClusterNode[] = [];
  for (let i = 1; i <= workers; i++) ws.push(await mk(`w${i}`, "worker"));
  const gateway = await mk("gw", "gateway");
  const b: Bed = {
    workers: ws,
    gateway,
    async add(id) {
      const n = await mk(id, "worker");
      ws.push(n);
      return n;
    },
    async settled() {
      const started = Date.now();
      for (;;) {
        const live = all.filter((n) => n.membership.state === "up");
        const epoch = gateway.view.epoch;
        const workersInView = gateway.view.members.filter((m) => m.roles.includes("worker") && !m.leaving).length;
        const moving = live.some((n) => Object.values(n.stats().moves.inMotion).some((c) => c > 0));
        if (live.every((n) => n.view.epoch === epoch) && workersInView === ws.filter((w) => w.membership.state === "up").length && !moving) return;
        if (Date.now() - started > 60_000) throw new Error("the cluster did not settle within 60 s");
        await sleep(5);
      }
    },
    async close() {
      await Promise.all(all.map((n) => n.stop().catch(() => undefined)));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await b.settled();
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function activate(gateway: ClusterNode, type: LogActor, sessions: readonly string[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += 500) await Promise.all(sessions.slice(i, i + 500).map((s) => gateway.ref(type, s).append(`${s}#0`)));
}

/** `rebalance`: a 4th node joins 3 loaded ones. */
export const rebalance: Benchmark = {
  name: "rebalance",
  async run({ quick }) {
    const b = await bed(3);
    try {
      const sessions = Array.from({ length: quick ? 2_000 : 10_000 }, (_, i) => `r${i}`);
      await activate(b.gateway, Log, sessions);
      const load = startLoad(sessions, 64, (s, tk) => b.gateway.ref(Log, s).append(tk));
      await sleep(1_000);
      const before = b.workers.reduce((n, w) => n + w.stats().moves.movesFinished, 0);
      const latStart = load.history.latencies.length;
      const t0 = Date.now();
      const w4 = await b.add("w4");
      await b.settled();
      const seconds = (Date.now() - t0) / 1000;
      const during = load.history.latencies.slice(latStart);
      await sleep(500);
      const stats = await load.stop();
      const moved = b.workers.reduce((n, w) => n + w.stats().moves.movesFinished, 0) - before;
      const ideal = 1024 / 4;
      return [
        {
          name: "rebalance",
          sessions: sessions.length,
          partitionsMoved: moved,
          newcomerOwns: w4.stats().partitionsOwned,
          idealMoves: ideal,
          movedRatio: round(moved / ideal, 3),
          secondsToSettle: round(seconds, 2),
          p99PauseMs: round(quantile(during, 0.99), 1),
          maxPauseMs: round(Math.max(0, ...during), 1),
          maxHeldMs: Math.max(...b.workers.map((w) => w.stats().moves.maxHoldMs)),
          failedCalls: stats.failed,
          writesDuringMove: during.length,
        },
      ];
    } finally {
      await b.close();
    }
  },
};

/** `failover` and `post-failure-balance`: one of 3 nodes holding active sessions crashes under load, per policy. */
export const failover: Benchmark = {
  name: "failover",
  async run({ quick }) {
    const out: BenchResult[] = [];
    const policies: Array<[string, LogActor]> = [
      ["none", Log],
      ["async", LogAsync],
      ["sync-backup", LogSyncBackup],
      ["sync-log", LogSyncLog],
    ];
    for (const [policy, type] of policies) {
      const b = await bed(3);
      try {
        const sessions = Array.from({ length: quick ? 900 : 3_000 }, (_, i) => `f${i}`);
        await activate(b.gateway, type, sessions);
        const load = startLoad(sessions, 64, (s, tk) => b.gateway.ref(type, s).append(tk));
        await sleep(1_000);
        const victim = b.workers[1] as ClusterNode;
        const theirs = sessions.filter((s) => b.gateway.locate(s).owner === victim.id);
        const t0 = Date.now();
        await victim.crash();
        // Every session of the dead node answers again.
        await Promise.all(theirs.map((s) => b.gateway.ref(type, s).echo(null)));
        const seconds = (Date.now() - t0) / 1000;
        await sleep(500);
        const stats = await load.stop();
        const stored = new Map<string, string[]>();
        for (let i = 0; i < sessions.length; i += 500) {
          const batch = sessions.slice(i, i + 500);
          const lists = await Promise.all(batch.map((s) => b.gateway.ref(type, s).tokens()));
          batch.forEach((s, j) => stored.set(s, lists[j] as string[]));
        }
        for (const s of sessions) {
          const acked = load.history.acked.get(s) ?? [];
          acked.unshift(`${s}#0`);
          load.history.acked.set(s, acked);
        }
        const { lost, problems } = load.history.check(stored);
        out.push({
          name: "failover",
          policy,
          sessionsOnDeadNode: theirs.length,
          secondsUntilAllServed: round(seconds, 2),
          lostAcknowledged: lost.length,
          otherProblems: problems.filter((p) => !p.includes("lost")).length,
          failedCalls: stats.failed,
          acknowledged: stats.acknowledged,
        });
        if (policy === "sync-backup") {
          const survivors = b.workers.filter((w) => w !== victim);
          const active = survivors.map((w) => w.stats().active);
          const avg = active.reduce((a, c) => a + c, 0) / active.length;
          out.push({ name: "post-failure-balance", policy, activePerSurvivor: active, maxOverAvg: round(Math.max(...active) / avg, 3) });
        }
      } finally {
        await b.close();
      }
    }
    return out;
  },
};

/** A gateway in this process in front of 3 workers that are `berth node` processes (a real 3-node cluster). */
async function processBed(workers: number): Promise<{ gateway: ClusterNode; workerPids: number[]; serverPid: number; serverHttpPort: number; close(): Promise<void> }> {
  const dir = resolve(".berth", `bench-procs-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const server = await startNatsServer({ dir });
  const cluster = `benchp${Date.now().toString(36)}`;
  const nodes = await Promise.all(Array.from({ length: workers }, (_, i) => spawnNode({ app: "test/fixtures/log-app", urls: [server.url], cluster, id: `w${i + 1}`, env: { BERTH_LOG_LEVEL: "info" } })));
  const gateway = await createNode({ actors: ACTORS, nats: { servers: [server.url] }, cluster, id: "gw", roles: ["gateway"], logger: "error" });
  await waitFor(() => gateway.view.members.length === workers + 1, 20_000, "every worker in the view");
  // The fresh cluster places and recovers its partitions first: wait until the workers' records
  // (rewritten every ~2 s) show each of them up, every partition owned, none moving.
  await waitFor(
    async () => {
      await sleep(200);
      const st = await readStatus([server.url], cluster);
      const ws = st.members.filter((m) => m.roles.includes("worker"));
      return ws.length === workers && ws.every((m) => m.inView && m.state === "up" && m.moving === 0) && ws.reduce((n, m) => n + m.partitions, 0) === 1024;
    },
    30_000,
    "every worker up with its partitions, none moving",
  );
  return {
    gateway,
    workerPids: nodes.map((n) => n.pid),
    serverPid: server.pid,
    serverHttpPort: server.httpPort,
    async close() {
      await gateway.stop().catch(() => undefined);
      for (const n of nodes) n.signal("SIGKILL");
      await Promise.all(nodes.map((n) => n.exited));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const WRITE_TYPES: Array<[string, LogActor]> = [
  ["write-none", Log],
  ["write-async", LogAsync],
  ["write-sync-backup", LogSyncBackup],
  ["write-sync-log", LogSyncLog],
];

/**
 * Runs `measure` once per write policy in each of `rounds` rounds, the policies in a rotated
 * order each round (so drift on a noisy machine hits every policy alike), each on 1,000
 * sessions of its own, activated first. Before the first round every policy runs 3,000 writes
 * untimed, so that no round measures one of them before the processes compiled its code (the
 * first policy of the first round used to run ~30% slower). Returns each policy's results,
 * round by round.
 */
async function policyRounds<R>(gateway: ClusterNode, rounds: number, tag: string, measure: (write: (i: number) => Promise<unknown>) => Promise<R>): Promise<Map<string, R[]>> {
  const runs = new Map<string, R[]>();
  for (const [name, type] of WRITE_TYPES) {
    const sessions = Array.from({ length: 200 }, (_, i) => `${name}-${tag}warm${i}`);
    await throughput(3_000, 64, (i) => gateway.ref(type, sessions[i % sessions.length] as string).append(`warm:${i}`));
  }
  for (let round_ = 0; round_ < rounds; round_++) {
    const order = WRITE_TYPES.map((_, i) => WRITE_TYPES[(i + round_) % WRITE_TYPES.length] as [string, LogActor]);
    for (const [name, type] of order) {
      const sessions = Array.from({ length: 1_000 }, (_, i) => `${name}-${tag}${i}`);
      await activate(gateway, type, sessions);
      const write = (i: number): Promise<unknown> => gateway.ref(type, sessions[i % sessions.length] as string).append(`${tag}${round_}:${i}`);
      runs.set(name, [...(runs.get(name) ?? []), await measure(write)]);
    }
  }
  return runs;
}

/**
 * Interleaved rounds of `count` writes per policy through `gateway`, 64 in flight; every ratio
 * is taken within its round (against that round's `write-none`). Reported: the median over
 * rounds, and the spread of the ratios.
 */
async function writeRounds(gateway: ClusterNode, count: number, rounds: number, nodes: string): Promise<BenchResult[]> {
  const runs = await policyRounds(gateway, rounds, "", async (write) => {
    const lat: number[] = [];
    const opsPerSec = await throughput(count, 64, async (i) => {
      const a = performance.now();
      await write(i);
      lat.push(performance.now() - a);
    });
    return { opsPerSec, p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99) };
  });
  const none = runs.get("write-none") ?? [];
  return WRITE_TYPES.map(([name]) => {
    const rs = runs.get(name) ?? [];
    const ratios = rs.map((r, i) => r.opsPerSec / (none[i]?.opsPerSec ?? Number.NaN));
    return {
      name,
      nodes,
      rounds,
      writesPerSec: Math.round(median(rs.map((r) => r.opsPerSec))),
      ratioToNone: round(median(ratios), 3),
      ratioRange: spread(ratios, 3),
      ...latencyFigures(rs, none),
    };
  });
}

/** Median p50 and p99 over rounds, and each round's p50 over `write-none`'s in the same round: their median and spread. */
function latencyFigures(rs: ReadonlyArray<{ p50ms: number; p99ms: number }>, none: ReadonlyArray<{ p50ms: number }>): Record<string, number | string> {
  const over = rs.map((r, i) => r.p50ms - (none[i]?.p50ms ?? Number.NaN));
  return { p50ms: round(median(rs.map((r) => r.p50ms)), 2), p99ms: round(median(rs.map((r) => r.p99ms)), 2), p50OverNoneMs: round(median(over), 2), p50OverNoneRange: spread(over, 2) };
}

/** `min–max` of round figures. */
function spread(xs: readonly number[], digits: number): string {
  return `${round(Math.min(...xs), digits)}–${round(Math.max(...xs), digits)}`;
}

/**
 * `write-none`, `write-async`, `write-sync-backup`, `write-sync-log`: write turns through a
 * gateway, 64 in flight, on 3 workers — twice: as in-process nodes sharing this process's event
 * loop (`nodes: "in-process"`), and as a real 3-node cluster of `berth node` processes
 * (`nodes: "processes"`). In-process, every hop of replication costs a turn of the one loop the
 * calls also use; with processes, each node has its own loop (all still share the 2 cores).
 */
export const writes: Benchmark = {
  name: "write",
  async run({ quick }) {
    const count = quick ? 5_000 : 20_000;
    const rounds = quick ? 2 : 3;
    const out: BenchResult[] = [];
    const b = await bed(3);
    try {
      out.push(...(await writeRounds(b.gateway, count, rounds, "in-process")));
    } finally {
      await b.close();
    }
    const p = await processBed(3);
    try {
      out.push(...(await writeRounds(p.gateway, count, rounds, "processes")));
    } finally {
      await p.close();
    }
    return out;
  },
};

/** CPU time a process used so far (ms); a bench process that vanished is an error, not a zero. */
function cpuMs(pid: number): number {
  const ms = processCpuMs(pid);
  if (ms === undefined) throw new Error(`process ${pid} is gone: cannot read its CPU time`);
  return ms;
}

/** Messages published to the server so far (its `/varz`). */
async function serverInMsgs(httpPort: number): Promise<number> {
  const varz = (await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as { in_msgs?: unknown };
  if (typeof varz.in_msgs !== "number") throw new Error("nats-server /varz has no in_msgs");
  return varz.in_msgs;
}

/**
 * `write-cost`: where a write's CPU goes on the 3-node cluster of `berth node` processes, per
 * policy — µs of CPU per write in the gateway (this process), the workers together and
 * `nats-server`, and NATS messages published per write — in interleaved rounds, with the ratio
 * of each policy's total to `write-none`'s in the same round. On a saturated machine,
 * throughput ratios follow these cost ratios; this says which process pays.
 */
export const writeCost: Benchmark = {
  name: "write-cost",
  async run({ quick }) {
    const count = quick ? 5_000 : 30_000;
    const rounds = quick ? 2 : 3;
    const p = await processBed(3);
    let rows: Map<string, Array<{ gw: number; workers: number; server: number; total: number; msgs: number; busy: number }>>;
    try {
      rows = await policyRounds(p.gateway, rounds, "c", async (write) => {
        const m0 = await serverInMsgs(p.serverHttpPort);
        const w0 = p.workerPids.map(cpuMs);
        const s0 = cpuMs(p.serverPid);
        const g0 = process.cpuUsage();
        const opsPerSec = await throughput(count, 64, write);
        const g = process.cpuUsage(g0);
        const gw = (g.user + g.system) / count;
        const workers = ((p.workerPids.map(cpuMs).reduce((a, c) => a + c, 0) - w0.reduce((a, c) => a + c, 0)) * 1000) / count;
        const server = ((cpuMs(p.serverPid) - s0) * 1000) / count;
        const msgs = ((await serverInMsgs(p.serverHttpPort)) - m0) / count;
        const total = gw + workers + server;
        // CPU µs per write × writes per µs of wall time = cores busy.
        return { gw, workers, server, total, msgs, busy: (total * opsPerSec) / 1e6 };
      });
    } finally {
      await p.close();
    }
    const none = rows.get("write-none") ?? [];
    return WRITE_TYPES.map(([name]) => {
      const rs = rows.get(name) ?? [];
      const med = (f: (r: (typeof rs)[number]) => number): number => median(rs.map(f));
      return {
        name: "write-cost",
        policy: name,
        rounds,
        cpuUsPerWrite: round(med((r) => r.total), 1),
        gatewayUs: round(med((r) => r.gw), 1),
        workersUs: round(med((r) => r.workers), 1),
        natsServerUs: round(med((r) => r.server), 1),
        natsMessagesPerWrite: round(med((r) => r.msgs), 3),
        coresBusy: round(med((r) => r.busy), 2),
        costToNone: round(median(rs.map((r, i) => r.total / (none[i]?.total ?? Number.NaN))), 3),
      };
    });
  },
};

/**
 * `write-latency`: what each policy adds to a write's latency when the cluster is not saturated.
 * `write` keeps 64 calls in flight, so on this 2-core machine every policy runs the CPU flat out
 * and its p50 follows its throughput (Little's law): it measures cost, not the round trips a
 * policy adds. Here the same 3 `berth node` processes get an open loop at `perSecond` writes/s
 * — a quarter of what the weakest policy (`sync-log`) sustained with 64 in flight in earlier
 * runs — and each write's latency is taken from when it started.
 */
export const writeLatency: Benchmark = {
  name: "write-latency",
  async run({ quick }) {
    const perSecond = 3_000;
    const seconds = quick ? 2 : 5;
    const rounds = quick ? 2 : 3;
    const p = await processBed(3);
    let runs: Map<string, Array<{ p50ms: number; p99ms: number }>>;
    try {
      runs = await policyRounds(p.gateway, rounds, "l", async (write) => {
        await openLoop(perSecond, 1, write); // warm-up, not counted: the first second is slower (compiling, first copies on the backups)
        const lat = await openLoop(perSecond, seconds, write);
        return { p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99) };
      });
    } finally {
      await p.close();
    }
    const none = runs.get("write-none") ?? [];
    return WRITE_TYPES.map(([name]) => ({ name: "write-latency", policy: name, nodes: "processes", writesPerSec: perSecond, rounds, ...latencyFigures(runs.get(name) ?? [], none) }));
  },
};
