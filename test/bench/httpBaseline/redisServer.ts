import { spawn, spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { freePorts } from "../../../framework/src/harness/freePorts.js";

/** A `redis-server` started for the benchmark: no persistence, loopback only, stopped by PID. */
export interface RedisServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const INSTALL = "apt-get install -y redis-server (Debian/Ubuntu) or brew install redis (macOS)";

/** Throws a clear error naming the install command when `redis-server` is not on PATH. */
export function requireRedisServer(): void {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`the http-session benchmark's baseline needs redis-server on PATH, and it is not there; install it with: ${INSTALL}`);
  }
}

/** Starts `redis-server` detached on a free port in `dir` (no RDB, no AOF) and waits until it answers PING. */
export async function startRedisServer(dir: string): Promise<RedisServer> {
  requireRedisServer();
  const [port] = (await freePorts(1)) as [number];
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"],
    { detached: true, stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const pid = child.pid as number;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killOnExit = (): void => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.on("exit", killOnExit);
  const started = Date.now();
  while (!(await pong(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} before answering:\n${err}`);
    if (Date.now() - started > 10_000) {
      killOnExit();
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, "SIGTERM");
      const timer = setTimeout(killOnExit, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.setTimeout(500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => {
      socket.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
