import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

const BIN = resolve("framework/bin/berth.js");

/** A `berth node` process started for a test. */
export interface NodeProcess {
  readonly id: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process logged so far. */
  output(): string;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
}

/** Processes started by tests, killed at exit whatever happens. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** SIGKILLs every node process still running (use in `test.afterEach.always`). */
export function killAllNodes(): void {
  for (const c of live) c.kill("SIGKILL");
}

/**
 * Starts `berth node` for `app` and resolves once it logged "node up" (it is in the view).
 * @param options.app a folder with a package.json naming the app module
 */
export async function spawnNode(options: {
  app: string;
  urls: readonly string[];
  cluster: string;
  id: string;
  role?: "worker" | "gateway";
  args?: string[];
  env?: Record<string, string>;
  /** A command prefix the node runs under, e.g. `["ip", "netns", "exec", ns]` (it execs node, so the PID is the node's). */
  prefix?: readonly string[];
}): Promise<NodeProcess> {
  const args = [BIN, "node", "--app", options.app, "--nats", options.urls.join(","), "--cluster", options.cluster, "--id", options.id, "--role", options.role ?? "worker", ...(options.args ?? [])];
  const [command, ...before] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(command as string, [...before, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BERTH_LOG_LEVEL: "info", BERTH_EXIT_WITH_PARENT: "1", ...options.env } });
  live.add(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => {
    live.delete(child);
    resolveExit(code);
  }));
  const started = Date.now();
  while (!out.includes('"msg":"node up"')) {
    if (child.exitCode !== null) throw new Error(`berth node ${options.id} exited with ${child.exitCode} before joining:\n${out}`);
    if (Date.now() - started > 20_000) {
      child.kill("SIGKILL");
      throw new Error(`berth node ${options.id} did not join within 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    id: options.id,
    pid: child.pid as number,
    child,
    output: () => out,
    signal: (sig) => child.kill(sig),
    exited,
  };
}

/** Polls `cond` every 10 ms until it holds; returns the ms it took. Throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}
