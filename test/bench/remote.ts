import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { connect, createInbox, type NatsConnection } from "@nats-io/transport-node";
import { createNode, type ClusterNode } from "berth";
import { Log } from "../fixtures/log-app/app.js";
import { startNatsServer } from "../../framework/src/harness/index.js";
import { interleaved, quantile, round } from "./measure.js";
import type { Benchmark } from "./types.js";

const IN_FLIGHT = 64;
const PAYLOAD = "x".repeat(128);

interface Sample {
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

/** Runs `count` calls with 64 in flight, timing each. */
async function measure(count: number, call: () => Promise<unknown>): Promise<Sample> {
  const lat = new Float64Array(count);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await call();
        lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const xs = Array.from(lat);
  return { opsPerSec: count / seconds, p50us: quantile(xs, 0.5), p99us: quantile(xs, 0.99) };
}

/** The baseline client: one wildcard inbox, a map of pending requests — the hand-rolled mux. */
function muxClient(nc: NatsConnection): (payload: Uint8Array) => Promise<Uint8Array> {
  const inbox = createInbox();
  const pending = new Map<string, (d: Uint8Array) => void>();
  let seq = 0;
  nc.subscribe(`${inbox}.*`, {
    callback: (_err, msg) => {
      const id = msg.subject.slice(inbox.length + 1);
      const r = pending.get(id);
      if (r) {
        pending.delete(id);
        r(msg.data);
      }
    },
  });
  return (payload) =>
    new Promise((res) => {
      const id = (seq++).toString(36);
      pending.set(id, res);
      nc.publish("bench.echo", payload, { reply: `${inbox}.${id}` });
    });
}

function spawnChild(args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BERTH_EXIT_WITH_PARENT: "1", BERTH_LOG_LEVEL: "info" } });
  let out = "";
  return new Promise((res, rej) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) res(child);
    });
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => rej(new Error(`child exited (${code}):\n${out}`)));
  });
}

/** `remote-call`: an actor on node B called from node A (separate processes, one NATS server). */
export const remoteCall: Benchmark = {
  name: "remote-call",
  async run({ quick }) {
    const dir = resolve(".berth", `bench-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const server = await startNatsServer({ dir });
    const children: ChildProcess[] = [];
    let gateway: ClusterNode | undefined;
    try {
      children.push(await spawnChild(["--import", "tsx", resolve("test/bench/rawEchoServer.ts"), server.url], "ready"));
      children.push(
        await spawnChild([resolve("framework/bin/berth.js"), "node", "--app", resolve("test/fixtures/log-app"), "--nats", server.url, "--cluster", "bench", "--id", "b"], '"msg":"node up"'),
      );
      gateway = await createNode({ actors: [Log], nats: { servers: server.url }, cluster: "bench", id: "a", roles: ["gateway"], logger: "warn" });
      const nc = await connect({ servers: server.url, noAsyncTraces: true });
      const echo = muxClient(nc);
      const bytes = new TextEncoder().encode(PAYLOAD);
      const actor = gateway.ref(Log, "bench-actor");
      const count = quick ? 20_000 : 100_000;
      await measure(count / 4, () => actor.echo(PAYLOAD)); // warm-up, activation
      await measure(count / 4, () => echo(bytes));
      const samples = { berth: [] as Sample[], baseline: [] as Sample[], berthWrite: [] as Sample[] };
      await interleaved(quick ? 1 : 3, {
        berth: async () => (samples.berth.push(await measure(count, () => actor.echo(PAYLOAD))), 0),
        baseline: async () => (samples.baseline.push(await measure(count, () => echo(bytes))), 0),
        berthWrite: async () => (samples.berthWrite.push(await measure(count / 2, () => gateway!.ref(Log, `w${Math.random() * 1000 | 0}`).append(PAYLOAD))), 0),
      });
      const med = (xs: Sample[], k: keyof Sample): number => quantile(xs.map((x) => x[k]), 0.5);
      await nc.close();
      return [
        {
          name: "remote-call",
          opsPerSec: round(med(samples.berth, "opsPerSec")),
          p50us: round(med(samples.berth, "p50us")),
          p99us: round(med(samples.berth, "p99us")),
          baselineNatsRpc: round(med(samples.baseline, "opsPerSec")),
          baselineP50us: round(med(samples.baseline, "p50us")),
          baselineP99us: round(med(samples.baseline, "p99us")),
          ratio: round(med(samples.berth, "opsPerSec") / med(samples.baseline, "opsPerSec"), 3),
          p50Ratio: round(med(samples.berth, "p50us") / med(samples.baseline, "p50us"), 3),
          writeOpsPerSec: round(med(samples.berthWrite, "opsPerSec")),
          writeP50us: round(med(samples.berthWrite, "p50us")),
          inFlight: IN_FLIGHT,
          payloadBytes: 128,
        },
      ];
    } finally {
      await gateway?.stop();
      for (const c of children) c.kill("SIGKILL");
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
