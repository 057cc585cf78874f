import test from "ava";
import { randomBytes } from "node:crypto";
import { readStatus } from "../../framework/src/cli/statusCommand.js";
import { startLoad } from "../helpers/history.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { createNamespace, namespacesUnavailable, startRelay, type Namespace, type Relay } from "../helpers/netPartition.js";
import { killAllNodes, spawnNode, waitFor, type NodeProcess } from "../helpers/nodeProcess.js";

/**
 * A network partition: a worker is cut off from NATS while it keeps running, and clients (a
 * load balancer that has not noticed) keep sending it HTTP requests. It runs in a network
 * namespace and reaches NATS only through a relay that the test blackholes (see
 * helpers/netPartition.ts): nothing it sends arrives, nothing is refused or reset. Unlike a
 * paused node (SIGSTOP, failover.test.ts) it notices, and must stop acknowledging writes
 * before its successors take over; when the partition heals and what it sent meanwhile
 * arrives, none of that may be applied over the successors' state. Then it rejoins and
 * serves again.
 *
 * The history checker sees every acknowledged write of the load (`sync({ backups: 1 })`):
 * nothing lost, nothing twice, order kept, and no write acknowledged by the cut-off node
 * between its removal from the view and its return.
 */

const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

const APP = "test/fixtures/log-http-app";
const SESSIONS = 24;
const HTTP_PORT = 8080;

interface Ack {
  readonly token: string;
  readonly node: string;
  readonly at: number;
}

/** One client per session: its cookie, and the node it sends every request to. */
interface Client {
  readonly session: string;
  readonly base: string;
  cookie: string | null;
}

async function post(client: Client, token: string, timeoutMs: number): Promise<{ status: number; node?: string; error?: string }> {
  const res = await fetch(`${client.base}/append/sync`, {
    method: "POST",
    body: token,
    headers: client.cookie === null ? {} : { cookie: client.cookie },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const set = res.headers.getSetCookie()[0];
  if (set !== undefined) client.cookie = set.split(";")[0] as string;
  const body = (await res.json()) as { node?: string; error?: string };
  return { status: res.status, ...body };
}

const why = namespacesUnavailable();
/** `BERTH_FAULT_RUNS=n` (npm run test:faults -- --runs n) repeats the scenario n times. */
const RUNS = Math.max(1, Number(process.env.BERTH_FAULT_RUNS ?? 1));

for (let run = 1; run <= RUNS; run++) {
  test.serial(`a worker cut off from NATS stops acknowledging before its successors take over; none of its late writes is applied; it rejoins when the partition heals${RUNS > 1 ? ` (run ${run}/${RUNS})` : ""}`, async (t) => {
    if (why !== null) return t.fail(`this test needs network namespaces: ${why}`);
    t.timeout(90_000);
    // A namespace and subnet of its own per run: nothing of an earlier run's can answer.
    const ns: Namespace = createNamespace(100 + ((process.pid + run) % 150));
    const server = nats.servers[0];
    if (server === undefined) throw new Error("no NATS server");
    const relay: Relay = await startRelay(ns.hostIp, { host: "127.0.0.1", port: server.port });
    let victim: NodeProcess | undefined;
    t.teardown(async () => {
      victim?.signal("SIGKILL");
      await victim?.exited;
      await relay.close();
      ns.remove();
    });

    const cluster = uniqueCluster();
    const env = { BERTH_SECRET: randomBytes(32).toString("hex") };
    const httpOf = (p: NodeProcess): string => {
      const url = /"http":"([^"]+)"/.exec(p.output())?.[1];
      if (url === undefined) throw new Error(`${p.id} logged no http address`);
      return url;
    };
    const w1 = await spawnNode({ app: APP, urls: nats.urls, cluster, id: "w1", args: ["--http", "127.0.0.1:0"], env });
    victim = await spawnNode({ app: APP, urls: [relay.url], cluster, id: "w2", args: ["--http", `0.0.0.0:${HTTP_PORT}`], env: { ...env, ...(process.env.BERTH_DEBUG ? { BERTH_LOG_LEVEL: "debug" } : {}) }, prefix: ns.exec });
    const w3 = await spawnNode({ app: APP, urls: nats.urls, cluster, id: "w3", args: ["--http", "127.0.0.1:0"], env });
    const status = () => readStatus([...nats.urls], cluster);
    const settled = async (ids: readonly string[]): Promise<boolean> => {
      const st = await status();
      const ws = st.members.filter((m) => m.inView);
      return ws.length === ids.length && ws.every((m) => ids.includes(m.id) && m.state === "up" && m.moving === 0) && ws.reduce((n, m) => n + m.partitions, 0) === 1024;
    };
    await waitFor(() => settled(["w1", "w2", "w3"]), 30_000, "three workers up, every partition owned");

    // Half the sessions are reached through the victim's HTTP port, half through w1's.
    const victimUrl = `http://${ns.nsIp}:${HTTP_PORT}`;
    const clients: Client[] = Array.from({ length: SESSIONS }, (_, i) => ({ session: `s${i}`, base: i % 2 === 0 ? victimUrl : httpOf(w1), cookie: null }));
    const acks: Ack[] = [];
    const slowest = { viaVictim: 0 };
    const cutOff = victim;
    for (const c of clients) {
      const first = await post(c, `${c.session}#0`, 10_000).catch((error: unknown) => {
        throw new Error(`the first write of ${c.session} through ${c.base} failed: ${String((error as { cause?: unknown }).cause ?? error)}`);
      });
      if (first.status !== 200) throw new Error(`the first write of ${c.session} failed: ${first.status} ${first.error}`);
    }
    // One caller per session (its cookie), each write a unique token; failures pause a little.
    const bySession = new Map(clients.map((c) => [c.session, c]));
    const load = startLoad(clients.map((c) => c.session), SESSIONS, async (session, token) => {
      const c = bySession.get(session) as Client;
      const t0 = performance.now();
      try {
        const r = await post(c, token, 60_000);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.error}`);
        acks.push({ token, node: r.node ?? "?", at: Date.now() });
      } catch (error) {
        await new Promise((r) => setTimeout(r, 50));
        throw error;
      } finally {
        if (c.base === victimUrl) slowest.viaVictim = Math.max(slowest.viaVictim, performance.now() - t0);
      }
    });
    const history = load.history;
    for (const c of clients) history.ack(c.session, `${c.session}#0`, 0); // before any write of the load is acknowledged
    const victimSessions = async (): Promise<number> => (await status()).members.find((m) => m.id === "w2")?.partitions ?? 0;
    await new Promise((r) => setTimeout(r, 1_000));
    t.true(acks.some((a) => a.node === "w2"), "before the cut the victim served writes of its own sessions");
    t.true((await victimSessions()) > 0);

    // The cut.
    const cutAt = Date.now();
    relay.cut();
    await waitFor(async () => !(await status()).members.some((m) => m.id === "w2" && m.inView), 15_000, "the survivors to remove the victim from the view");
    const removedAt = Date.now();
    await waitFor(() => settled(["w1", "w3"]), 15_000, "the survivors to own every partition");
    // The load goes on: through w1, served by the survivors; through the victim, held. Longer than
    // the sync timeout (5 s), after which the victim's held calls used to spin (isolated-node.test.ts).
    await new Promise((r) => setTimeout(r, Number(process.env.BERTH_PARTITION_MS ?? 6_000)));
    t.is(cutOff.child.exitCode, null, "the cut-off node keeps running");
    const duringCut = acks.filter((a) => a.at > removedAt);
    t.true(duringCut.length > 0, "the survivors served writes during the partition");

    // The heal: what the victim sent meanwhile arrives now.
    const healedAt = Date.now();
    relay.heal();
    await waitFor(async () => (await status()).members.some((m) => m.id === "w2" && m.inView && m.state === "up"), 30_000, "the victim to rejoin the view");
    const backAt = Date.now();
    await waitFor(() => settled(["w1", "w2", "w3"]), 30_000, "the victim to take partitions again");
    const rejoinedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1_500));
    await load.stop();

    // Every session read back through w3.
    const stored = new Map<string, string[]>();
    for (const c of clients) {
      const res = await fetch(`${httpOf(w3)}/tokens/sync`, { headers: { cookie: c.cookie ?? "" } });
      stored.set(c.session, ((await res.json()) as { tokens: string[] }).tokens);
    }
    if (process.env.BERTH_DEBUG) for (const p of [w1, cutOff, w3]) t.log(p.id, p.output().split("\n").filter((l) => /"level":[45]0/.test(l)).slice(0, 12).join("\n"));
    if (process.env.BERTH_DEBUG) for (const c of clients) t.log(`${c.session} served by ${[...new Set(acks.filter((a) => a.token.startsWith(`${c.session}#`)).map((a) => a.node))].join(",")} stored ${JSON.stringify(stored.get(c.session)?.slice(0, 3))} of ${stored.get(c.session)?.length}, acked ${JSON.stringify(history.acked.get(c.session)?.slice(0, 5))} of ${history.acked.get(c.session)?.length}`);
    const { problems, lost } = history.check(stored);
    const lateAcks = acks.filter((a) => a.node === "w2" && a.at > removedAt && a.at < healedAt);
    const lastVictimAck = Math.max(0, ...acks.filter((a) => a.node === "w2" && a.at < healedAt).map((a) => a.at));
    t.log(`${acks.length} writes acknowledged, ${history.failures.length} failed; the victim's last acknowledgement ${lastVictimAck - cutAt} ms after the cut, removed from the view ${removedAt - cutAt} ms after it; back in the view ${backAt - healedAt} ms after the heal, settled ${rejoinedAt - healedAt} ms after it; slowest request through the victim ${Math.round(slowest.viaVictim)} ms`);
    const kinds = new Map<string, number>();
    for (const f of history.failures) kinds.set(f.error.slice(0, 120), (kinds.get(f.error.slice(0, 120)) ?? 0) + 1);
    for (const [kind, n] of kinds) t.log(`${n} × ${kind}`);
    for (const problem of problems.slice(0, 3)) {
      const session = problem.split(":")[0] as string;
      const token = /token (\S+)/.exec(problem)?.[1] ?? "";
      const n = Number(token.split("#")[1]);
      const around = (stored.get(session) ?? []).filter((tk) => Math.abs(Number(tk.split("#")[1]) - n) <= 2);
      const failure = history.failures.find((f) => f.token === token);
      const near = acks.filter((a) => a.token.startsWith(`${session}#`) && Math.abs(Number(a.token.split("#")[1]) - n) <= 3).map((a) => `${a.token}@${a.node}+${a.at - cutAt}`);
      const list = stored.get(session) ?? [];
      t.log(`${problem}: positions ${list.map((tk, i) => (tk === token ? i : -1)).filter((i) => i >= 0).join(",")} of ${list.length}, after the second: ${list.slice(list.lastIndexOf(token) - 2, list.lastIndexOf(token) + 3).join(",")}; acks near: ${near.join(" ")}`);
      t.log(`${problem}: stored around it ${around.join(",")}; acknowledged by ${acks.find((a) => a.token === token)?.node ?? "nobody"}${failure ? `; failed ${failure.at - cutAt} ms after the cut: ${failure.error.slice(0, 80)}` : ""}; cut +0, removed +${removedAt - cutAt}, healed +${healedAt - cutAt}, rejoined +${rejoinedAt - cutAt}`);
    }
    t.deepEqual(problems.slice(0, 10), [], `${problems.length} problem(s)`);
    t.deepEqual(lost, [], "no acknowledged write lost");
    t.deepEqual(lateAcks.map((a) => a.token), [], "the cut-off node acknowledged nothing once it was out of the view");
    t.true(lastVictimAck < removedAt, "its last acknowledgement came before its removal");
    t.true(backAt - healedAt < 3_000, `it was back in the view ${backAt - healedAt} ms after the heal (its event loop kept running while it was cut off)`);
    t.true(acks.some((a) => a.node === "w2" && a.at > rejoinedAt), "after rejoining it serves writes again");
    t.true(acks.some((a) => a.at > rejoinedAt && clients.some((c) => c.base === victimUrl && a.token.startsWith(`${c.session}#`))), "requests through its HTTP port succeed again");
    t.true(slowest.viaVictim < 40_000, "no request through the cut-off node hung for good");
  });
}
