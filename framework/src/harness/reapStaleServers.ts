import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { trackedServerByPid } from "./liveServers.js";
import { isPidAlive, readCommandLine, signalPid, waitUntilExited } from "./processes.js";

/** How deep under `dir` to look for `server.pid` files (`<dir>/<name>/server.pid` is depth 1). */
const MAX_DEPTH = 3;

function findPidFiles(dir: string, depth = 0): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === "server.pid") found.push(path);
    // Skip JetStream stores: they can be large and never hold our pid files.
    else if (entry.isDirectory() && depth < MAX_DEPTH && entry.name !== "js") found.push(...findPidFiles(path, depth + 1));
  }
  return found;
}

/**
 * Kills `nats-server` processes left behind under `dir` by an earlier run (one that was
 * SIGKILLed, or crashed before its exit hook ran): for each `server.pid` under `dir`, if the
 * process still runs and its command line is a server started with that directory's
 * `server.conf` (checked in /proc/<pid>/cmdline, so a reused PID is never hit), it gets
 * SIGTERM, then SIGKILL after 3 s. Pid files of dead processes are removed. Call it before
 * starting servers in a directory, e.g. at the top of `berth dev` or a test file.
 *
 * It also stops servers this process started and still tracks, if their pid files are under `dir`.
 *
 * @returns how many processes were killed.
 *
 * @example
 * ```ts
 * const dir = ".berth/dev-nats";
 * const reaped = await reapStaleServers(dir);
 * if (reaped > 0) console.log(`stopped ${reaped} leftover nats-server(s)`);
 * const cluster = await startNatsCluster({ dir });
 * ```
 */
export async function reapStaleServers(dir: string): Promise<number> {
  let killed = 0;
  for (const pidFile of findPidFiles(resolve(dir))) {
    const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0 || !isPidAlive(pid)) {
      rmSync(pidFile, { force: true });
      continue;
    }
    const argv = readCommandLine(pid);
    const configFile = join(dirname(pidFile), "server.conf");
    const ours = argv !== undefined && argv.some((arg, i) => arg === configFile && argv[i - 1] === "-c");
    if (!ours) {
      rmSync(pidFile, { force: true }); // the PID now belongs to some other process
      continue;
    }
    const tracked = trackedServerByPid(pid);
    if (tracked) {
      await tracked.stop();
    } else {
      signalPid(pid, "SIGCONT");
      signalPid(pid, "SIGTERM");
      if (!(await waitUntilExited(() => !isPidAlive(pid), 3000))) {
        signalPid(pid, "SIGKILL");
        await waitUntilExited(() => !isPidAlive(pid), 3000);
      }
    }
    rmSync(pidFile, { force: true });
    killed++;
  }
  return killed;
}
