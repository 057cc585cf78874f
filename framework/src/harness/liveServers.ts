import { constants } from "node:os";
import { isMainThread } from "node:worker_threads";

/**
 * The registry of servers this process started and has not stopped, so none outlives it:
 * on process `exit` they are SIGKILLed synchronously; on SIGINT, SIGTERM or SIGHUP, if no
 * one else listens for that signal, they are SIGKILLed and the signal is re-raised so the
 * process ends with the conventional status (130, 143, 129). If the application has its own
 * handler for the signal, that handler decides when to exit (and should call `stop()`); the
 * `exit` hook still catches whatever is left. What no hook can catch (SIGKILL of this process,
 * a worker thread that ends without `exit` listeners running) is left to watchdog.ts.
 *
 * The registry lives on `globalThis`, so two copies of this module (source and dist) share it.
 */
export interface LiveServer {
  readonly name: string;
  readonly pid: number;
  /** Synchronous SIGKILL if the process is still ours and alive. */
  killNow(): void;
  /** Graceful stop, as `NatsServerHandle.stop()`. */
  stop(): Promise<void>;
}

interface Registry {
  readonly servers: Set<LiveServer>;
  hooksInstalled: boolean;
}

const KEY = Symbol.for("berth.harness.liveServers");
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const satisfies readonly NodeJS.Signals[];

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  return (g[KEY] ??= { servers: new Set(), hooksInstalled: false });
}

/** SIGKILLs every tracked server, synchronously. Returns how many were signalled. */
export function killLiveServersSync(): number {
  const { servers } = registry();
  let count = 0;
  for (const server of servers) {
    try {
      server.killNow();
      count++;
    } catch {
      // nothing more can be done at exit
    }
  }
  servers.clear();
  return count;
}

function installHooks(reg: Registry): void {
  if (reg.hooksInstalled) return;
  reg.hooksInstalled = true;
  process.on("exit", killLiveServersSync);
  // Workers never receive signals; the main thread's handlers (or its exit) cover them.
  if (!isMainThread) return;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of SIGNALS) {
    const handler = (): void => {
      // Another listener owns shutdown: let it run (it should stop() the servers).
      if (process.listenerCount(signal) > 1) return;
      killLiveServersSync();
      for (const [s, h] of handlers) process.removeListener(s, h);
      // With no listener left the default action applies: re-raise to die "by signal".
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1000);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
}

/** Starts tracking `server` (and installs the process hooks on first use). */
export function trackServer(server: LiveServer): void {
  const reg = registry();
  installHooks(reg);
  reg.servers.add(server);
}

/** Stops tracking `server` (it was stopped). */
export function untrackServer(server: LiveServer): void {
  registry().servers.delete(server);
}

/** The tracked server with process id `pid`, if any. */
export function trackedServerByPid(pid: number): LiveServer | undefined {
  for (const server of registry().servers) if (server.pid === pid) return server;
  return undefined;
}
