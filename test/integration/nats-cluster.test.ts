import test from "ava";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { exactlyOnce, inProcessNodes, tableOf } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";

const run = promisify(execFile);
const BIN = resolve("framework/bin/berth.js");
const nats = natsForFile("cluster");

test.serial("on a 3-server NATS cluster, nodes on different servers agree and every call runs exactly once", async (t) => {
  const nodes = await inProcessNodes(t, 3, uniqueCluster(), (i) => [nats.urls[i] as string]);
  t.deepEqual(tableOf(nodes[1]!), tableOf(nodes[0]!));
  t.deepEqual(tableOf(nodes[2]!), tableOf(nodes[0]!));
  await exactlyOnce(t, nodes, 40, 4);
});

test.serial("berth dev runs a cluster that berth status --json reports, and Ctrl-C stops all of it", async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), "berth-dev-"));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const dev = spawn(process.execPath, [BIN, "dev", "--app", resolve("test/fixtures/log-app"), "--nodes", "2", "--nats-servers", "1"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  dev.stdout.on("data", (d: Buffer) => (out += d.toString()));
  dev.stderr.on("data", (d: Buffer) => (out += d.toString()));
  t.teardown(() => dev.kill("SIGKILL"));
  await waitFor(() => out.includes("press Ctrl-C"), 30_000, `berth dev to start:\n${out}`);

  const status = JSON.parse((await run(process.execPath, [BIN, "status", "--json"], { cwd })).stdout) as { epoch: number; members: Array<{ id: string; state: string; partitions: number; pid: number }> };
  t.true(status.epoch >= 2);
  t.deepEqual(status.members.map((m) => [m.id, m.state]), [["node-1", "up"], ["node-2", "up"]]);
  t.is(status.members.reduce((n, m) => n + m.partitions, 0), 1024);
  const pids = status.members.map((m) => m.pid);
  const natsPid = Number(/NATS: +nats:\/\/\S+ \(pid (\d+)\)/.exec(out)?.[1]);
  t.true(natsPid > 0, "berth dev printed the NATS server's pid");
  t.notThrows(() => process.kill(natsPid, 0), "NATS runs while berth dev runs");

  // A second berth dev in the same folder refuses, and leaves the first one's servers alone.
  const second = await run(process.execPath, [BIN, "dev", "--app", resolve("test/fixtures/log-app"), "--nodes", "1", "--nats-servers", "1"], { cwd }).then(
    () => null,
    (e: { code?: number; stderr?: string }) => e,
  );
  t.is(second?.code, 1, "a second berth dev in the folder exits with an error");
  t.regex(second?.stderr ?? "", new RegExp(`berth dev is already running from this folder \\(pid ${dev.pid}`));
  t.notThrows(() => process.kill(natsPid, 0), "the first berth dev's NATS still runs");
  const again = JSON.parse((await run(process.execPath, [BIN, "status", "--json"], { cwd })).stdout) as { members: Array<{ id: string; state: string }> };
  t.deepEqual(again.members.map((m) => [m.id, m.state]), [["node-1", "up"], ["node-2", "up"]]);

  // A node killed under it is reported at once, with the signal (not at the next refresh, 10 s on a pipe).
  const [, node2] = pids as [number, number];
  process.kill(node2, "SIGKILL");
  await waitFor(() => out.includes(`node-2 (pid ${node2}) killed by SIGKILL; the other nodes take over its sessions`), 5_000, `berth dev to report the kill:\n${out}`);

  dev.kill("SIGINT");
  const code = await new Promise<number | null>((r) => dev.on("exit", r));
  t.is(code, 0, out);
  t.true(out.includes("stopped"));
  for (const pid of [...pids, natsPid]) t.throws(() => process.kill(pid, 0), undefined, `process ${pid} is gone`);
});

test.serial("berth dev run by npm (npm_lifecycle_event set) stops everything when the shell that started it is killed", async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), "berth-dev-"));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  // As `npm start` runs it: a shell that does not exec the command (`; true` after it).
  const shell = spawn("sh", ["-c", `"${process.execPath}" "${BIN}" dev --app "${resolve("test/fixtures/log-app")}" --nodes 1 --nats-servers 1; true`], { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_lifecycle_event: "start" } });
  let out = "";
  shell.stdout.on("data", (d: Buffer) => (out += d.toString()));
  shell.stderr.on("data", (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes("press Ctrl-C"), 30_000, `berth dev to start:\n${out}`);
  const natsPid = Number(/NATS: +nats:\/\/\S+ \(pid (\d+)\)/.exec(out)?.[1]);
  const nodePid = Number(/node-1: pid (\d+)/.exec(out)?.[1]);
  t.true(natsPid > 0 && nodePid > 0, out);
  t.teardown(() => {
    for (const pid of [nodePid, natsPid]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
  });
  shell.kill("SIGKILL");
  await waitFor(() => out.includes("is gone; stopping") && out.includes("stopped"), 20_000, `berth dev to stop:\n${out}`);
  await waitFor(() => [natsPid, nodePid].every((pid) => { try { process.kill(pid, 0); return false; } catch { return true; } }), 10_000, "its NATS server and node to be gone");
  t.pass();
});
