import test, { type ExecutionContext } from "ava";
import { createNode, type ClusterNode } from "berth";
import { readStatus } from "../../framework/src/cli/statusCommand.js";
import { Log, Timer } from "../fixtures/log-app/app.js";
import { startLoad } from "../helpers/history.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * Planned changes of the cluster's shape under a steady load of writes, on real NATS:
 * scale out 3 → 4 → 5, scale in 5 → 3 gracefully, then restart every worker one by one.
 * Afterwards every acknowledged token is stored exactly once, in its caller's order, and no
 * call failed. `BERTH_LONG=1` (npm run test:faults) runs it with more sessions on a 3-server
 * NATS cluster.
 */
const LONG = process.env.BERTH_LONG === "1";
const SESSIONS = LONG ? 3_000 : 600;
const CONCURRENCY = LONG ? 64 : 32;

const nats = natsForFile(LONG ? "cluster" : "single");

class Cluster {
  readonly workers = new Map<string, ClusterNode>();
  gateway!: ClusterNode;
  private readonly all: ClusterNode[] = [];

  constructor(
    private readonly t: ExecutionContext,
    readonly name: string,
  ) {
    t.teardown(() => Promise.all(this.all.map((n) => n.stop())).then(() => undefined));
  }

  private async start(id: string, role: "worker" | "gateway"): Promise<ClusterNode> {
    const i = this.all.length;
    const servers = [nats.urls[i % nats.urls.length] as string];
    const node = await createNode({ actors: [Log, Timer], nats: { servers }, cluster: this.name, id, roles: [role], logger: "warn" });
    this.all.push(node);
    return node;
  }

  async addWorker(id: string): Promise<void> {
    this.workers.set(id, await this.start(id, "worker"));
    await this.settled();
  }

  async addGateway(): Promise<void> {
    this.gateway = await this.start("gw", "gateway");
  }

  async stopWorkers(...ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => (this.workers.get(id) as ClusterNode).stop()));
    for (const id of ids) this.workers.delete(id);
    await this.settled();
  }

  /** Every node sees the same view with exactly the running workers, and no partition is moving. */
  async settled(): Promise<void> {
    const nodes = [...this.workers.values(), ...(this.gateway ? [this.gateway] : [])];
    const ids = [...this.workers.keys()].sort();
    await waitFor(
      () => {
        const epoch = nodes[0]?.view.epoch;
        if (!nodes.every((n) => n.view.epoch === epoch)) return false;
        const members = (nodes[0] as ClusterNode).view.members.filter((m) => m.roles.includes("worker") && !m.leaving).map((m) => m.id).sort();
        if (members.join() !== ids.join()) return false;
        const stats = [...this.workers.values()].map((w) => w.stats());
        const owned = stats.reduce((n, s) => n + s.partitionsOwned, 0);
        const moving = stats.reduce((n, s) => n + Object.values(s.moves.inMotion).reduce((a, b) => a + b, 0), 0);
        return owned === 1024 && moving === 0;
      },
      60_000,
      `the cluster to settle on workers ${ids.join(", ")}`,
    );
  }

  moves(): { started: number; finished: number; aborted: number } {
    const out = { started: 0, finished: 0, aborted: 0 };
    for (const n of this.all) {
      const m = n.stats().moves;
      out.started += m.movesStarted;
      out.finished += m.movesFinished;
      out.aborted += m.movesAborted;
    }
    return out;
  }
}

async function readAll(node: ClusterNode, sessions: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < sessions.length; i += 100) {
    const batch = sessions.slice(i, i + 100);
    const lists = await Promise.all(batch.map((s) => node.ref(Log, s).tokens()));
    batch.forEach((s, j) => out.set(s, lists[j] as string[]));
  }
  return out;
}

test.serial("scale 3 → 4 → 5 → 3 and a rolling restart under load: every acknowledged write exactly once, in order, none failed", async (t) => {
  t.timeout(LONG ? 600_000 : 120_000);
  const c = new Cluster(t, uniqueCluster());
  for (const id of ["w1", "w2", "w3"]) await c.addWorker(id);
  await c.addGateway();
  await c.settled();
  const sessions = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);
  const T0 = Date.now();
  const load = startLoad(sessions, CONCURRENCY, (s, token) => c.gateway.ref(Log, s).append(token));
  const steps: Array<[string, () => Promise<void>]> = [
    ["3 → 4", () => c.addWorker("w4")],
    ["4 → 5", () => c.addWorker("w5")],
    ["5 → 3", () => c.stopWorkers("w4", "w5")],
    ...["w1", "w2", "w3"].map((id): [string, () => Promise<void>] => [
      `restart ${id}`,
      async () => {
        await c.stopWorkers(id);
        await c.addWorker(id);
      },
    ]),
  ];
  const timeline: string[] = [];
  await new Promise((r) => setTimeout(r, 500));
  for (const [name, step] of steps) {
    const t0 = Date.now();
    await step();
    timeline.push(`${name} ${Date.now() - t0} ms (at ${t0 - T0})`);
    await new Promise((r) => setTimeout(r, LONG ? 2_000 : 300));
  }
  const stats = await load.stop();
  const moves = c.moves();
  t.log(timeline.join("; "));
  t.log(`${stats.acknowledged} writes acknowledged (${stats.writesPerSec}/s), ${stats.failed} failed; latency p99 ${stats.p99LatencyMs} ms, max ${stats.maxLatencyMs} ms; moves started ${moves.started}, finished ${moves.finished}, aborted ${moves.aborted}`);
  t.deepEqual(load.history.failures.slice(0, 5), [], "no call failed");
  const { problems } = load.history.check(await readAll(c.gateway, sessions));
  t.deepEqual(problems.slice(0, 10), [], `${problems.length} problem(s) in the history`);
  t.true(stats.acknowledged > SESSIONS, "the load kept running through the changes");
  t.true(moves.finished > 0, "partitions moved");
  // `berth status` reports each node's moves (from the records nodes rewrite every 2 s).
  await t.notThrowsAsync(waitFor(async () => (await readStatus([...nats.urls], c.name)).members.some((m) => (m.moves?.finished ?? 0) > 0 && m.moving === 0), 10_000, "berth status to report finished moves"));
  // A lost request or reply costs a whole 2.5 s attempt before the retry: none may be lost.
  t.true(stats.maxLatencyMs < 2_500, `the slowest write took ${stats.maxLatencyMs} ms`);
});

test.serial("timers fire exactly once, on whichever node owns the actor when they are due, across moves", async (t) => {
  const c = new Cluster(t, uniqueCluster());
  for (const id of ["w1", "w2"]) await c.addWorker(id);
  await c.addGateway();
  await c.settled();
  const actors = Array.from({ length: 200 }, (_, i) => `t${i}`);
  // Deadlines spread over the moves below: before, during and after each of them.
  const expected = new Map<string, string[]>();
  await Promise.all(
    actors.map(async (a, i) => {
      const tokens = [`${a}:0`, `${a}:1`, `${a}:2`];
      expected.set(a, tokens);
      for (const [k, token] of tokens.entries()) await c.gateway.ref(Timer, a).arm(100 + ((i * 37 + k * 900) % 3_000), token);
    }),
  );
  await c.addWorker("w3");
  await c.stopWorkers("w1");
  await c.addWorker("w4");
  await new Promise((r) => setTimeout(r, 3_500));
  await waitFor(
    async () => (await Promise.all(actors.map((a) => c.gateway.ref(Timer, a).fired()))).every((f) => f.length >= 3),
    10_000,
    "every timer to fire",
  );
  await new Promise((r) => setTimeout(r, 500));
  for (const a of actors) {
    const fired = await c.gateway.ref(Timer, a).fired();
    t.deepEqual([...fired].sort(), expected.get(a), `${a}: each timer fired exactly once`);
  }
  const moves = c.moves();
  t.true(moves.finished > 0, "partitions moved while timers were pending");
});
