/**
 * The NATS harness against the real nats-server: a single server, a 3-server JetStream
 * cluster with a leader kill, the reaping of leftover servers, and the not-installed error.
 */
import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  findNatsServer,
  NatsServerNotFoundError,
  reapStaleServers,
  startNatsCluster,
  startNatsServer,
} from "../../framework/src/harness/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A fresh directory under .berth/ (gitignored), removed when the test ends. */
function tempDir(t: ExecutionContext): string {
  const dir = join(ROOT, ".berth", `test-harness-${randomBytes(6).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  // Teardowns run last-registered-first, so this runs after the servers' stop().
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** True when no process has this PID any more (kill(pid, 0) fails with ESRCH). */
function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** The command line of `pid`, or undefined once it is gone. */
function readCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return undefined;
  }
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/** Publishes with a message id, retrying (same id, so at most one copy is stored) until acked. */
async function publishUntilAcked(
  js: JetStreamClient,
  subject: string,
  msgID: string,
  giveUpMs: number,
  errors?: Map<string, number>,
): Promise<PubAck> {
  const deadline = Date.now() + giveUpMs;
  for (;;) {
    try {
      return await js.publish(subject, `payload ${msgID}`, { msgID, timeout: 1000 });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      errors?.set(message, (errors.get(message) ?? 0) + 1);
      if (Date.now() >= deadline) throw e;
      await sleep(100);
    }
  }
}

test.serial("a single server answers requests and JetStream, and stop() leaves no process", async (t) => {
  const dir = tempDir(t);
  const started = performance.now();
  const server = await startNatsServer({ dir });
  t.log(`single server ready in ${(performance.now() - started).toFixed(0)} ms`);
  t.teardown(() => server.stop());

  t.true(server.running);
  t.is(server.url, `nats://127.0.0.1:${server.port}`);
  t.is(server.clusterPort, undefined);
  t.is(readFileSync(server.logFile, "utf8").includes("Server is ready"), true);
  t.is(readFileSync(join(dir, "nats", "server.pid"), "utf8").trim(), String(server.pid));

  const nc = await connect({ servers: server.url });
  t.teardown(() => nc.close());
  nc.subscribe("echo", {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });
  const reply = await nc.request("echo", "ping", { timeout: 2000 });
  t.is(reply.string(), "ping");

  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
  const ack = await jetstream(nc).publish("orders.1", "hello");
  t.is(ack.stream, "ORDERS");
  t.is(ack.seq, 1);
  await nc.close();

  const pid = server.pid;
  const stopping = performance.now();
  await server.stop();
  t.log(`stopped in ${(performance.now() - stopping).toFixed(0)} ms`);
  t.false(server.running);
  t.true(pidGone(pid));
  await server.stop(); // idempotent
});

test.serial("a 3-server cluster keeps an R3 stream through a leader kill and takes the server back", async (t) => {
  const dir = tempDir(t);
  const started = performance.now();
  const cluster = await startNatsCluster({ dir });
  t.log(`3-server cluster ready in ${(performance.now() - started).toFixed(0)} ms`);
  t.teardown(() => cluster.stop());
  t.is(cluster.servers.length, 3);
  t.deepEqual(cluster.urls, cluster.servers.map((s) => s.url));
  t.is(new Set(cluster.servers.flatMap((s) => [s.port, s.httpPort, s.clusterPort])).size, 9);

  const nc = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "EVENTS", subjects: ["events.>"], num_replicas: 3 });
  const js = jetstream(nc);

  let sent = 0;
  const errors = new Map<string, number>();
  const publishNext = (giveUpMs: number): Promise<PubAck> => {
    sent++;
    return publishUntilAcked(js, `events.${sent}`, `m-${sent}`, giveUpMs, errors);
  };
  for (let i = 0; i < 10; i++) await publishNext(5000);

  const before = await jsm.streams.info("EVENTS");
  const leader = before.cluster?.leader;
  const victim = cluster.servers.find((s) => s.name === leader) ?? cluster.servers[0]!;
  t.log(`stream leader: ${leader ?? "(unknown)"}; killing ${victim.name} (pid ${victim.pid})`);
  const victimPid = victim.pid;
  victim.kill("SIGKILL");
  const killedAt = performance.now();
  t.true(await eventually(() => !victim.running, 2000));

  await publishNext(20_000);
  t.log(`first ack after the kill: ${(performance.now() - killedAt).toFixed(0)} ms`);
  t.log(`publish errors meanwhile: ${[...errors].map(([m, n]) => `${n}× "${m}"`).join(", ") || "none"}`);
  for (let i = 0; i < 10; i++) await publishNext(5000);

  const during = await jsm.streams.info("EVENTS");
  t.not(during.cluster?.leader, victim.name);
  t.is(during.state.messages, sent); // every acked message once, no duplicates

  const restarting = performance.now();
  await victim.restart();
  t.log(`restart ready in ${(performance.now() - restarting).toFixed(0)} ms`);
  t.true(victim.running);
  t.not(victim.pid, victimPid);
  const rejoined = await eventually(async () => {
    try {
      const info = await jsm.streams.info("EVENTS");
      return info.cluster?.replicas?.some((r) => r.name === victim.name && r.current && !r.offline) ?? false;
    } catch {
      return false;
    }
  }, 20_000);
  t.true(rejoined, `${victim.name} is a current replica of EVENTS again`);
  t.log(`current stream replica again ${(performance.now() - restarting).toFixed(0)} ms after restart`);
  await publishNext(5000);

  await nc.close();
  const pids = cluster.servers.map((s) => s.pid);
  await cluster.stop();
  for (const pid of [...pids, victimPid]) t.true(pidGone(pid), `pid ${pid} is gone`);
});

test.serial("reapStaleServers kills a forgotten server", async (t) => {
  const dir = tempDir(t);
  const server = await startNatsServer({ dir, name: "forgotten" });
  t.teardown(() => server.stop()); // a no-op once reaped; only a safety net
  const pid = server.pid;
  t.is(await reapStaleServers(dir), 1);
  t.true(pidGone(pid));
  t.false(server.running);
  t.is(await reapStaleServers(dir), 0);
});

test.serial("reapStaleServers kills a server left by an earlier run (not tracked by this process)", async (t) => {
  const dir = tempDir(t);
  // What a SIGKILLed `berth dev` leaves behind: a nats-server on <dir>/<name>/server.conf and
  // our pid file. Spawned here directly (so this process reaps it), not through the harness.
  const serverDir = join(dir, "leftover");
  mkdirSync(serverDir, { recursive: true });
  const configFile = join(serverDir, "server.conf");
  writeFileSync(configFile, "server_name: leftover\nlisten: 127.0.0.1:-1\n");
  const child = spawn(findNatsServer(), ["-c", configFile], { detached: true, stdio: "ignore" });
  child.unref();
  t.teardown(() => {
    child.kill("SIGKILL");
  });
  const pid = child.pid!;
  writeFileSync(join(serverDir, "server.pid"), `${pid}\n`);
  // A stale pid file of a PID that is not our server must be removed, never acted on.
  mkdirSync(join(dir, "reused"), { recursive: true });
  writeFileSync(join(dir, "reused", "server.pid"), `${process.pid}\n`);
  t.true(await eventually(() => (readCommandLine(pid) ?? "").includes(configFile), 2000));

  t.is(await reapStaleServers(dir), 1);
  t.true(await eventually(() => pidGone(pid), 2000));
  t.false(existsSync(join(serverDir, "server.pid")));
  t.false(existsSync(join(dir, "reused", "server.pid")));
  t.is(await reapStaleServers(dir), 0);
});

test.serial("findNatsServer names the install command when NATS_SERVER_BIN points at nothing", (t) => {
  const previous = process.env["NATS_SERVER_BIN"];
  t.teardown(() => {
    if (previous === undefined) delete process.env["NATS_SERVER_BIN"];
    else process.env["NATS_SERVER_BIN"] = previous;
  });
  process.env["NATS_SERVER_BIN"] = join(ROOT, ".berth", "no-such-dir", "nats-server");
  const error = t.throws(() => findNatsServer(), { instanceOf: NatsServerNotFoundError });
  t.is(error?.code, "nats-server-not-found");
  t.regex(error?.message ?? "", /apt-get install -y nats-server/);
  t.regex(error?.message ?? "", /NATS_SERVER_BIN/);
});
