import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { freePorts } from "../../framework/src/harness/freePorts.js";
import { startNatsServer } from "../../framework/src/harness/index.js";
import { uniqueCluster } from "../helpers/nats.js";
import { spawnNode, waitFor, type NodeProcess } from "../helpers/nodeProcess.js";
import { requireRedisServer, startRedisServer } from "./httpBaseline/redisServer.js";
import { runCartLoad, type HttpLoadSample } from "./httpLoad.js";
import { interleaved, quantile, round } from "./measure.js";
import type { Benchmark } from "./types.js";

const CONNECTIONS = 64;
const APP_SERVERS = 3;

/** Starts a baseline process (`httpBaseline/*.ts`) and resolves once it printed "ready". */
function spawnReady(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", resolve("test/bench/httpBaseline", script), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((res, rej) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) res(child);
    });
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => rej(new Error(`${script} exited (${code}):\n${out}`)));
  });
}

/** Stops a child by PID: SIGTERM, then SIGKILL if it is still there after 3 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

/** The node that answered each of `n` fresh-session requests. */
async function answeringNodes(base: string, n: number): Promise<Set<string | null>> {
  const nodes = new Set<string | null>();
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/api/cart`);
    await res.arrayBuffer();
    nodes.add(res.status === 200 ? res.headers.get("x-berth-node") : null);
  }
  return nodes;
}

/**
 * `http-session`: add-then-get cart requests (each virtual user with its own session cookie)
 * through a Berth gateway in front of 3 `berth node --http` workers of apps/shopping-cart on a
 * real nats-server, against the usual stack measured in the same run: the same cart on
 * express + express-session + connect-redis, 3 app processes behind a round-robin proxy, one
 * local redis-server. Both stacks take the same 64 keep-alive connections from autocannon.
 */
export const httpSession: Benchmark = {
  name: "http-session",
  async run({ quick }) {
    requireRedisServer(); // before starting anything: the error names the install command
    const dir = resolve(".berth", `bench-http-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const baseline: ChildProcess[] = [];
    const nodes: NodeProcess[] = [];
    const nats = await startNatsServer({ dir });
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      redis = await startRedisServer(dir);
      // Berth: 3 workers and a gateway, each on its own HTTP port.
      const ports = await freePorts(APP_SERVERS + 1 + APP_SERVERS + 1);
      const common = { app: "apps/shopping-cart", urls: [nats.url], cluster: uniqueCluster(), env: { BERTH_SECRET: randomBytes(32).toString("base64"), BERTH_LOG_LEVEL: "info" } };
      nodes.push(...(await Promise.all(Array.from({ length: APP_SERVERS }, (_, i) => spawnNode({ ...common, id: `w${i + 1}`, args: ["--http", `127.0.0.1:${ports[i]}`] })))));
      nodes.push(await spawnNode({ ...common, id: "gw", role: "gateway", args: ["--http", `127.0.0.1:${ports[APP_SERVERS]}`] }));
      const berthUrl = `http://127.0.0.1:${ports[APP_SERVERS]}`;
      await waitFor(async () => (await answeringNodes(berthUrl, 12)).size === APP_SERVERS, 20_000, "new sessions to be spread over the 3 workers");
      // Baseline: 3 express apps on one Redis, a round-robin proxy in front.
      const appPorts = ports.slice(APP_SERVERS + 1, APP_SERVERS + 1 + APP_SERVERS) as number[];
      const proxyPort = ports[APP_SERVERS * 2 + 1] as number;
      const secret = randomBytes(32).toString("base64");
      baseline.push(...(await Promise.all(appPorts.map((p) => spawnReady("cartApp.ts", [String(p), redis!.url, secret])))));
      baseline.push(await spawnReady("proxy.ts", [String(proxyPort), ...appPorts.map(String)]));
      const baselineUrl = `http://127.0.0.1:${proxyPort}`;

      // Short rounds, interleaved: on a shared machine the noise comes and goes over seconds,
      // and each Berth round is paired with a baseline round under about the same noise.
      const seconds = quick ? 3 : 6;
      const load = (url: string, s = seconds): Promise<HttpLoadSample> => runCartLoad(url, { connections: CONNECTIONS, seconds: s });
      await load(berthUrl, 5); // warm-up: JIT, connection pools, the first activations
      await load(baselineUrl, 5);
      const samples = { berth: [] as HttpLoadSample[], baseline: [] as HttpLoadSample[] };
      await interleaved(quick ? 1 : 5, {
        berth: async () => (samples.berth.push(await load(berthUrl)), 0),
        baseline: async () => (samples.baseline.push(await load(baselineUrl)), 0),
      });
      const med = (xs: HttpLoadSample[], k: keyof HttpLoadSample): number => quantile(xs.map((x) => x[k]), 0.5);
      const sum = (xs: HttpLoadSample[], k: keyof HttpLoadSample): number => xs.reduce((n, x) => n + x[k], 0);
      return [
        {
          name: "http-session",
          reqPerSec: round(med(samples.berth, "reqPerSec")),
          p50ms: round(med(samples.berth, "p50ms"), 2),
          p99ms: round(med(samples.berth, "p99ms"), 2),
          baselineReqPerSec: round(med(samples.baseline, "reqPerSec")),
          baselineP99ms: round(med(samples.baseline, "p99ms"), 2),
          ratio: round(med(samples.berth, "reqPerSec") / med(samples.baseline, "reqPerSec"), 3),
          baselineP50ms: round(med(samples.baseline, "p50ms"), 2),
          failed: sum(samples.berth, "failed"),
          mismatches: sum(samples.berth, "mismatches"),
          baselineFailed: sum(samples.baseline, "failed"),
          baselineMismatches: sum(samples.baseline, "mismatches"),
          roundsReqPerSec: samples.berth.map((s) => round(s.reqPerSec)),
          baselineRoundsReqPerSec: samples.baseline.map((s) => round(s.reqPerSec)),
          roundsP99ms: samples.berth.map((s) => round(s.p99ms, 2)),
          baselineRoundsP99ms: samples.baseline.map((s) => round(s.p99ms, 2)),
          connections: CONNECTIONS,
          secondsPerRound: seconds,
        },
      ];
    } finally {
      await Promise.all([...nodes.map((n) => stopChild(n.child)), ...baseline.map(stopChild)]);
      await redis?.stop();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
