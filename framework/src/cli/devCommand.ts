import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { reapStaleServers, startNatsCluster, startNatsServer, type NatsServerHandle } from "../harness/index.js";
import { appServesHttp, devSecret, parseAddress } from "../http/cli.js";
import { credentialsFromUrls } from "../transport/nats/urlCredentials.js";
import { appEntry, loadApp } from "./loadApp.js";
import { natsAuthFrom, type NatsAuth } from "./natsAuth.js";
import { DEV_STATE_FILE, readDevState, type DevState } from "./natsUrls.js";
import { readStatus, type ClusterStatus } from "./statusCommand.js";

const BIN = fileURLToPath(new URL("../../bin/berth.js", import.meta.url));

/** A node process run by `berth dev`. */
export interface DevNode {
  readonly id: string;
  readonly log: string;
  child: ChildProcess;
  exitCode: number | null;
  /** How it ended: `exited with code 1`, `killed by SIGKILL`. */
  ended?: string;
  /** Whether it came up (logged "node up"). */
  up?: boolean;
  /** Its HTTP address, once it is up (when the app serves HTTP). */
  http?: string;
}

interface DevOptions {
  app: string;
  nodes: string;
  natsServers: string;
  cluster: string;
  dir: string;
  port: string;
}

/** `berth dev`: a local NATS cluster and the app's nodes, stopped together on Ctrl-C. */
export function registerDev(program: Command): void {
  program
    .command("dev")
    .description("run an app locally: a NATS cluster (unless NATS_URL is set), its worker nodes and an HTTP gateway")
    .option("--app <dir>", "the app folder", ".")
    .option("--nodes <n>", "worker nodes", "3")
    .option("--nats-servers <n>", "NATS servers to start: 1, or 3 for a JetStream cluster", "3")
    .option("--cluster <name>", "cluster name", "berth")
    .option("--dir <dir>", "the project's working folder for data and logs", ".berth/dev")
    .option("--port <[host:]port>", "the HTTP gateway's address, if the app serves HTTP", process.env.PORT ?? "3000")
    .action((opts: DevOptions) => runDev(opts));
}

async function runDev(opts: DevOptions): Promise<void> {
  const count = Number(opts.nodes);
  const natsCount = Number(opts.natsServers);
  if (!Number.isInteger(count) || count < 1 || count > 32) throw new ConfigError(`--nodes must be 1 to 32; got ${opts.nodes}`);
  if (natsCount !== 1 && natsCount !== 3) throw new ConfigError(`--nats-servers must be 1 or 3; got ${opts.natsServers}`);
  // A second `berth dev` here would take the first one's NATS servers down (they look left over).
  const running = readDevState();
  if (running !== null) throw new ConfigError(`berth dev is already running from this folder (pid ${running.pid}, cluster "${running.cluster}"); stop it first (Ctrl-C there, or kill ${running.pid}), or run the second one from another folder`);
  const entry = appEntry(opts.app); // fails now, with the fix, if the app is not built
  const gatewayAddress = parseAddress(opts.port, "--port");
  const dir = resolve(opts.dir);
  const logs = resolve(dir, "logs");
  mkdirSync(logs, { recursive: true });
  await loadApp(opts.app);
  const http = await appServesHttp(entry);
  if (!http && opts.port !== (process.env.PORT ?? "3000")) say(`!! --port ${opts.port} is ignored: the app exports no \`http\` routes, so there is no gateway to serve`);
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_EXIT_WITH_PARENT: "1" };
  if (http && !process.env.BERTH_SECRET) {
    env.BERTH_SECRET = devSecret(dir);
    say("!! BERTH_SECRET is not set: session cookies are signed with a development secret generated for");
    say(`!! this folder (${resolve(dir, "secret")}). Never use it in production: set BERTH_SECRET there.`);
  }

  let servers: readonly NatsServerHandle[] = [];
  let urls: string[];
  // Nodes inherit the environment, so NATS_USER/NATS_PASSWORD/NATS_TOKEN/NATS_CA… reach them too.
  const auth = natsAuthFrom({});
  if (process.env.NATS_URL) {
    urls = process.env.NATS_URL.split(",").map((s) => s.trim()).filter(Boolean);
    say(`using NATS at ${credentialsFromUrls(urls).servers.join(", ")} (from NATS_URL)`);
  } else {
    const natsDir = resolve(dir, "nats");
    const reaped = await reapStaleServers(natsDir);
    if (reaped > 0) say(`stopped ${reaped} nats-server(s) left over from an earlier run`);
    rmSync(natsDir, { recursive: true, force: true });
    say(`starting ${natsCount === 3 ? "a 3-server NATS cluster" : "a NATS server"}...`);
    if (natsCount === 3) {
      const cluster = await startNatsCluster({ dir: natsDir, size: 3 });
      servers = cluster.servers;
      urls = [...cluster.urls];
    } else {
      const server = await startNatsServer({ dir: natsDir });
      servers = [server];
      urls = [server.url];
    }
  }
  const stateFile = resolve(process.cwd(), DEV_STATE_FILE);
  mkdirSync(resolve(stateFile, ".."), { recursive: true });
  const state: DevState = { urls, cluster: opts.cluster, pid: process.pid };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));

  const nodes: DevNode[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (stopping) process.exit(code);
    stopping = true;
    process.stdout.write("\n");
    say("stopping nodes...");
    for (const n of nodes) if (n.exitCode === null) n.child.kill("SIGTERM");
    const deadline = Date.now() + 15_000;
    while (nodes.some((n) => n.exitCode === null) && Date.now() < deadline) await sleep(50);
    for (const n of nodes) {
      if (n.exitCode !== null) continue;
      say(`${n.id} did not stop within 15 s; killing it (see ${n.log})`);
      n.child.kill("SIGKILL");
    }
    const killDeadline = Date.now() + 3_000;
    while (nodes.some((n) => n.exitCode === null) && Date.now() < killDeadline) await sleep(20);
    if (servers.length > 0) {
      say("stopping NATS...");
      await Promise.all(servers.map((s) => s.stop()));
    }
    rmSync(stateFile, { force: true });
    say("stopped");
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));
  // Under `npm start`, a SIGTERM to npm ends npm and its shell but not this process: stop with
  // them, or the whole cluster runs on, orphaned. (Run directly, berth dev outlives its shell.)
  if (process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid === parent || stopping) return;
      say(`the process that started berth dev (pid ${parent}) is gone; stopping`);
      void stopAll(0);
    }, 500).unref();
  }

  const launch = async (id: string, args: string[]): Promise<DevNode> => {
    const log = resolve(logs, `${id}.log`);
    say(`starting ${id}...`);
    const node = startNode(id, log, opts, urls, args, env, (n) => {
      // Said at once, not at the next status refresh: the demo invites `kill -9` of a node.
      if (!stopping && n.up === true) say(`${new Date().toISOString().slice(11, 19)} ${n.id} (pid ${n.child.pid}) ${n.ended ?? "exited"}; the other nodes take over its sessions (log: ${n.log})`);
    });
    nodes.push(node);
    try {
      node.http = await waitForLine(log, '"msg":"node up"', node, 30_000);
      node.up = true;
    } catch (error) {
      say(`${id} did not start: ${error instanceof Error ? error.message : String(error)} (log: ${log})`);
      await stopAll(1);
    }
    return node;
  };
  for (let i = 1; i <= count; i++) await launch(`node-${i}`, http ? ["--http", "127.0.0.1:0"] : []);
  const gateway = http ? await launch("gateway", ["--role", "gateway", "--http", `${gatewayAddress.host}:${gatewayAddress.port}`]) : null;
  if (gateway?.http !== undefined) writeFileSync(stateFile, JSON.stringify({ ...state, gateway: gateway.http } satisfies DevState, null, 2));

  say("");
  say(`cluster "${opts.cluster}" is up`);
  if (gateway?.http !== undefined) say(`  open:   ${gateway.http}   (the gateway; every node below is a correct entry point too)`);
  say(`  NATS:   ${servers.length > 0 ? servers.map((s) => `${s.url} (pid ${s.pid})`).join(", ") : credentialsFromUrls(urls).servers.join(", ")}`);
  for (const n of nodes) say(`  ${n.id}: pid ${n.child.pid}${n.http ? `, ${n.http}` : ""}, log ${n.log}`);
  say(`  status: npx berth status   (from this folder; NATS URLs are in ${DEV_STATE_FILE})`);
  say("press Ctrl-C to stop everything");
  say("");
  await liveStatus(urls, opts.cluster, auth, nodes, servers, () => stopping);
}

function startNode(id: string, log: string, opts: DevOptions, urls: string[], args: string[], env: NodeJS.ProcessEnv, onExit: (node: DevNode) => void): DevNode {
  const fd = openSync(log, "w");
  const child = spawn(process.execPath, [BIN, "node", "--app", opts.app, "--nats", urls.join(","), "--cluster", opts.cluster, "--id", id, ...args], {
    stdio: ["ignore", fd, fd],
    env,
  });
  const node: DevNode = { id, log, child, exitCode: null };
  child.on("exit", (code, signal) => {
    node.exitCode = code ?? (signal ? 128 : 1);
    node.ended = signal ? `killed by ${signal}` : `exited with code ${code ?? 1}`;
    onExit(node);
  });
  return node;
}

/** Waits for a log line; returns the `http` address logged on it, if any. */
async function waitForLine(file: string, needle: string, node: DevNode, timeoutMs: number): Promise<string | undefined> {
  const { readFileSync } = await import("node:fs");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(file, "utf8");
    const line = text.split("\n").find((l) => l.includes(needle));
    if (line !== undefined) return /"http":"([^"]+)"/.exec(line)?.[1];
    if (node.exitCode !== null) throw new Error(`exited with code ${node.exitCode}:\n${text.split("\n").slice(-8).join("\n")}`);
    if (Date.now() > deadline) throw new Error(`not up after ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** One line per node, refreshed in place on a terminal (every 10 s on a pipe). */
async function liveStatus(urls: string[], cluster: string, auth: NatsAuth, nodes: DevNode[], servers: readonly NatsServerHandle[], stopping: () => boolean): Promise<never> {
  const tty = process.stdout.isTTY === true;
  let lines = 0;
  let lastPrinted = 0;
  for (;;) {
    if (stopping()) await new Promise<never>(() => undefined);
    let status: ClusterStatus | string;
    try {
      status = await readStatus(urls, cluster, auth);
    } catch (error) {
      status = error instanceof Error ? error.message : String(error);
    }
    const text = renderStatus(status, nodes, servers);
    if (tty) {
      // Lines said since the last refresh (a node's exit) stay: the refresh goes below them.
      if (lines > 0 && !saidSinceRefresh) process.stdout.write(`\x1b[${lines}A\x1b[J`);
      saidSinceRefresh = false;
      process.stdout.write(text.join("\n") + "\n");
      lines = text.length;
    } else if (Date.now() - lastPrinted > 10_000) {
      process.stdout.write(text.join("\n") + "\n");
      lastPrinted = Date.now();
    }
    await sleep(1_000);
  }
}

/** The live status lines: the nodes, and any NATS server this `berth dev` started that is not running; or why the status could not be read. */
export function renderStatus(status: ClusterStatus | string, nodes: DevNode[], servers: readonly NatsServerHandle[]): string[] {
  const time = new Date().toISOString().slice(11, 19);
  const down = servers.filter((s) => !s.running).map((s) => `  NATS ${s.name} (${s.url}) is not running; the nodes use the other servers`);
  if (typeof status === "string") return [`${time} status unavailable: ${status}`, ...down];
  const out = [`${time} epoch ${status.epoch}`, ...down];
  for (const n of nodes) {
    const m = status.members.find((x) => x.id === n.id);
    out.push(`  ${n.id.padEnd(8)} ${(m?.state ?? "-").padEnd(8)} partitions ${String(m?.partitions ?? 0).padStart(4)}  actors ${String(m?.actors ?? 0).padStart(6)}${m?.moving ? `  moving ${m.moving}` : ""}  ${n.http ?? ""}  ${processText(n, m)}`);
  }
  return out;
}

/** Where a dev node's process is: its pid, how it ended, or the pid of one of its id started by hand since. */
function processText(n: DevNode, m: ClusterStatus["members"][number] | undefined): string {
  if (n.exitCode === null) return `pid ${n.child.pid}`;
  const ended = n.ended ?? `exited (${n.exitCode})`;
  if (m !== undefined && m.inView && m.pid !== null && m.pid !== n.child.pid) return `pid ${m.pid} (not started by berth dev; its own ended: ${ended})`;
  return `${ended}, see ${n.log}`;
}

/** Whether `say` wrote since the live status was last drawn. */
let saidSinceRefresh = false;

function say(line: string): void {
  saidSinceRefresh = true;
  process.stdout.write(`${line}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
