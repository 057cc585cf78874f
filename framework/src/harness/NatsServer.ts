import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { NatsServerStartError, NatsServerStopError } from "./errors.js";
import { trackServer, untrackServer, type LiveServer } from "./liveServers.js";
import { logSize, readLogTail } from "./logTail.js";
import { probeReadiness, type ReadinessTarget } from "./monitor.js";
import { isPidAlive, signalPid, waitUntilExited } from "./processes.js";
import { renderServerConfig } from "./renderServerConfig.js";
import type { NatsServerHandle, NatsServerSpec } from "./types.js";
import { guardProcess } from "./watchdog.js";

/** How long `stop()` waits after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 5000;
/** How long to wait for the exit after SIGKILL. */
const KILL_GRACE_MS = 3000;
/** Attempts of `restart()` when its (fixed) ports are briefly taken. */
const RESTART_ATTEMPTS = 3;

/**
 * One `nats-server` process started by the harness (the implementation of
 * {@link NatsServerHandle}). Created by `startNatsServer` / `startNatsCluster`.
 */
export class NatsServer implements NatsServerHandle, LiveServer {
  #child: ChildProcess | undefined;
  #pid = 0;
  #exited = true;
  #exitInfo = "";
  #logOffset = 0;
  #stopping: Promise<void> | undefined;
  #peers: readonly NatsServer[] = [];

  constructor(
    readonly spec: NatsServerSpec,
    readonly readyTimeoutMs: number,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  get pid(): number {
    return this.#pid;
  }
  get port(): number {
    return this.spec.port;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.spec.port}`;
  }
  get httpPort(): number {
    return this.spec.httpPort;
  }
  get clusterPort(): number | undefined {
    return this.spec.cluster?.port;
  }
  get storeDir(): string {
    return this.spec.storeDir;
  }
  get configFile(): string {
    return this.spec.configFile;
  }
  get logFile(): string {
    return this.spec.logFile;
  }
  get running(): boolean {
    return this.#child !== undefined && !this.#exited && isPidAlive(this.#pid);
  }

  /** Tells a cluster member who its peers are (for `restart()` readiness). */
  setPeers(peers: readonly NatsServer[]): void {
    this.#peers = peers.filter((p) => p !== this);
  }

  /** Writes the config and spawns the process detached, logging to `logFile`. Does not wait. */
  launch(): void {
    const { spec } = this;
    mkdirSync(spec.serverDir, { recursive: true });
    if (spec.jetstream) mkdirSync(spec.storeDir, { recursive: true });
    writeFileSync(spec.configFile, renderServerConfig(spec));
    appendFileSync(spec.logFile, `[berth harness] ${new Date().toISOString()} starting ${spec.bin} -c ${spec.configFile}\n`);
    this.#logOffset = logSize(spec.logFile);
    const fd = openSync(spec.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(spec.bin, ["-c", spec.configFile], { detached: true, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    child.once("error", (e) => {
      if (this.#child !== child) return;
      this.#exited = true;
      this.#exitInfo = `could not be spawned (${e.message})`;
    });
    child.once("exit", (code, signal) => {
      if (this.#child !== child) return;
      this.#exited = true;
      this.#exitInfo = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    });
    child.unref();
    this.#child = child;
    if (child.pid === undefined) {
      this.#exited = true;
      throw this.#startError("exited", `could not be spawned from ${spec.bin}`);
    }
    this.#pid = child.pid;
    this.#exited = false;
    this.#exitInfo = "";
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    trackServer(this);
    guardProcess(child.pid, spec.configFile);
  }

  /** What "ready" means for this server now: peers that are running must be routed. */
  #readinessTarget(): ReadinessTarget {
    const members = this.spec.cluster?.members;
    const runningPeers = this.#peers.filter((p) => p.running).length;
    return {
      name: this.spec.name,
      port: this.spec.port,
      httpPort: this.spec.httpPort,
      jetstream: this.spec.jetstream,
      minRoutes: members ? runningPeers : 0,
      members,
    };
  }

  /** Polls the monitoring endpoints until the server is ready, it exits, or `deadline` (epoch ms) passes. */
  async waitReady(deadline: number): Promise<void> {
    for (;;) {
      if (this.#exited || !isPidAlive(this.#pid)) {
        await sleep(20); // let the exit event and the last log lines land
        const tail = readLogTail(this.spec.logFile, this.#logOffset);
        if (/address already in use/i.test(tail)) {
          throw this.#startError("port-in-use", `could not bind a port (${this.#exitInfo || "exited"})`, tail);
        }
        throw this.#startError("exited", `${this.#exitInfo || "exited"} during startup${this.#configCheck()}`, tail);
      }
      const missing = await probeReadiness(this.#readinessTarget());
      if (missing === undefined) return;
      if (Date.now() >= deadline) {
        throw this.#startError("timeout", `was not ready within ${this.readyTimeoutMs} ms: ${missing}`);
      }
      await sleep(100);
    }
  }

  /** Launches and waits until ready; on failure the process is killed and the error rethrown. */
  async start(deadline: number): Promise<void> {
    this.launch();
    try {
      await this.waitReady(deadline);
    } catch (e) {
      await this.#terminate(true);
      throw e;
    }
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    // A dead server's PID may already belong to someone else: never signal it.
    if (this.running) signalPid(this.#pid, signal);
  }

  /** Synchronous SIGKILL, for the process `exit` hook. */
  killNow(): void {
    if (this.#child !== undefined && !this.#exited) signalPid(this.#pid, "SIGKILL");
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#terminate(false).finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  async restart(): Promise<void> {
    if (this.#stopping) await this.#stopping;
    if (this.running) await this.#terminate(false);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start(Date.now() + this.readyTimeoutMs);
        return;
      } catch (e) {
        // Same ports by contract; an outgoing connection may hold one for a moment.
        if (!(e instanceof NatsServerStartError && e.reason === "port-in-use") || attempt >= RESTART_ATTEMPTS) throw e;
        await sleep(300 * attempt);
      }
    }
  }

  /** SIGCONT (in case it was SIGSTOPped), SIGTERM unless `force`, wait; then SIGKILL, wait. */
  async #terminate(force: boolean): Promise<void> {
    const pid = this.#pid;
    const gone = (): boolean => this.#exited;
    if (this.#child !== undefined && !this.#exited) {
      signalPid(pid, "SIGCONT");
      let exited = false;
      if (!force) {
        signalPid(pid, "SIGTERM");
        exited = await waitUntilExited(gone, TERM_GRACE_MS);
      }
      if (!exited) {
        signalPid(pid, "SIGKILL");
        exited = await waitUntilExited(gone, KILL_GRACE_MS);
      }
      // A zombie not yet reaped is dead enough.
      if (!exited && isPidAlive(pid)) throw new NatsServerStopError(this.spec.name, pid);
    }
    untrackServer(this);
    rmSync(this.spec.pidFile, { force: true });
  }

  /** After an unexplained startup exit: what `nats-server -t` says about the config (cheap, ~10 ms). */
  #configCheck(): string {
    try {
      const result = spawnSync(this.spec.bin, ["-c", this.spec.configFile, "-t"], { encoding: "utf8", timeout: 5000 });
      const out = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
      return result.status === 0 ? "" : `; \`nats-server -c ${this.spec.configFile} -t\` says: ${out}`;
    } catch {
      return "";
    }
  }

  #startError(reason: "exited" | "port-in-use" | "timeout", detail: string, tail?: string): NatsServerStartError {
    return new NatsServerStartError(
      this.spec.name,
      reason,
      detail,
      this.spec.logFile,
      tail ?? readLogTail(this.spec.logFile, this.#logOffset),
    );
  }
}
