import { mkdirSync, rmSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServerHandle } from "../../framework/src/harness/index.js";

/**
 * NATS for tests and benchmarks. No ava here: the benchmark program imports this file too
 * (`natsForFile`, which registers ava hooks, lives in natsForFile.ts).
 */

/** Real nats-server processes for a test file, under .berth/ (gitignored), removed afterwards. */
export interface TestNats {
  readonly urls: string[];
  readonly servers: readonly NatsServerHandle[];
  stop(): Promise<void>;
}

export async function startTestNats(kind: "single" | "cluster"): Promise<TestNats> {
  const dir = resolve(".berth", `test-${randomUUID().slice(0, 8)}`);
  mkdirSync(dir, { recursive: true });
  if (kind === "single") {
    const server = await startNatsServer({ dir });
    return { urls: [server.url], servers: [server], stop: async () => { await server.stop(); rmSync(dir, { recursive: true, force: true }); } };
  }
  const cluster: NatsCluster = await startNatsCluster({ dir, size: 3 });
  return { urls: [...cluster.urls], servers: cluster.servers, stop: async () => { await cluster.stop(); rmSync(dir, { recursive: true, force: true }); } };
}

/** A cluster name no other test uses, so tests sharing a NATS server never meet. */
export function uniqueCluster(): string {
  return `t${randomUUID().replaceAll("-", "").slice(0, 10)}`;
}
