import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Process inspection and signalling by PID. Zombies (exited, not yet reaped by their
 * parent) count as dead: `process.kill(pid, 0)` alone would call them alive.
 */

function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Whether `pid` names a live (non-zombie) process. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (errnoCode(e) !== "EPERM") return false; // ESRCH: gone; EPERM: exists but not ours
  }
  const state = processState(pid);
  return state === undefined ? true /* no /proc (macOS): trust kill(0) */ : state !== "Z" && state !== "X";
}

/**
 * The kernel's one-letter state of `pid` (/proc/<pid>/stat: R running, S sleeping, T stopped,
 * Z zombie…), or undefined where there is no /proc entry to read.
 */
export function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/**
 * CPU time `pid` has used so far, user plus system (ms, in clock ticks of 10 ms), from
 * /proc/<pid>/stat; undefined where there is no /proc entry to read.
 */
export function processCpuMs(pid: number): number | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses): state first. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * Sends `signal` to `pid` and its process group. Servers are spawned detached, so each leads
 * its own group (pgid = pid): signalling the group also reaches a wrapper script's children
 * (`NATS_SERVER_BIN=./wrapper.sh`). Falls back to the PID alone if there is no such group.
 * Returns false if there is no such process.
 */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // not a group leader (or gone): try the process itself
  }
  try {
    process.kill(pid, signal);
    return true;
  } catch (e) {
    if (errnoCode(e) === "ESRCH") return false;
    throw e;
  }
}

/** The argv of `pid` (from /proc, else `ps`), or undefined if it is gone or unreadable. */
export function readCommandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (raw === "") return undefined; // zombie or kernel thread
    return (raw.endsWith("\0") ? raw.slice(0, -1) : raw).split("\0");
  } catch (e) {
    if (errnoCode(e) !== "ENOENT" || process.platform === "linux") return undefined;
  }
  try {
    const out = execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" }).trim();
    return out ? out.split(/\s+/) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until `exited()` is true; returns false if it is still false after `timeoutMs`. */
export async function waitUntilExited(exited: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!exited()) {
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}
