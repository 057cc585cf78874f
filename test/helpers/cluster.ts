import type { ExecutionContext } from "ava";
import { createNode, type AnyActorDefinition, type ClusterNode, type DependencyContainer } from "berth";
import { Log, Timer } from "../fixtures/log-app/app.js";
import { waitFor } from "./nodeProcess.js";

/** Starts in-process cluster nodes on real NATS (stopped when the test ends, pass or fail). */
export async function inProcessNodes(t: ExecutionContext, count: number, cluster: string, urls: string[] | ((i: number) => string[]), roles: Array<"worker" | "gateway"> = []): Promise<ClusterNode[]> {
  return clusterNodes(t, { count, cluster, urls, roles, actors: [Log, Timer] });
}

/** What `clusterNodes` starts. */
export interface ClusterNodesOptions {
  readonly count: number;
  readonly cluster: string;
  readonly urls: string[] | ((i: number) => string[]);
  readonly actors: readonly AnyActorDefinition[];
  readonly roles?: Array<"worker" | "gateway">;
  /** Default 1024; fewer make a test cluster start and move faster. */
  readonly partitions?: number;
  /** Node `i`'s providers. */
  readonly providers?: (i: number) => (container: DependencyContainer) => void;
  /** Ids; default `n0`, `n1`… */
  readonly ids?: readonly string[];
}

/**
 * Starts in-process cluster nodes hosting `actors` on real NATS, waits until they share one view
 * and every partition is served, and stops them when the test ends (pass or fail).
 */
export async function clusterNodes(t: ExecutionContext, options: ClusterNodesOptions): Promise<ClusterNode[]> {
  const nodes: ClusterNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())).then(() => undefined));
  await startClusterNodes(options, nodes);
  return nodes;
}

/**
 * `clusterNodes` without the teardown, for a cluster shared by several tests (stop its nodes in
 * `test.after.always`). Started nodes are pushed to `into` as they start, so a failed start
 * still leaves them there to stop.
 */
export async function startClusterNodes(options: ClusterNodesOptions, into: ClusterNode[] = []): Promise<ClusterNode[]> {
  const nodes = into;
  for (let i = 0; i < options.count; i++) {
    const servers = typeof options.urls === "function" ? options.urls(i) : options.urls;
    const providers = options.providers?.(i);
    nodes.push(
      await createNode({
        actors: options.actors,
        nats: { servers },
        cluster: options.cluster,
        id: options.ids?.[i] ?? `n${i}`,
        roles: [options.roles?.[i] ?? "worker"],
        logger: "warn",
        ...(options.partitions !== undefined ? { partitions: options.partitions } : {}),
        ...(providers !== undefined ? { providers } : {}),
      }),
    );
  }
  await settled(nodes);
  return nodes;
}

/** Waits until `nodes` see the same view with all of them in it, and every partition is served. */
export async function settled(nodes: readonly ClusterNode[]): Promise<void> {
  const ids = nodes.map((n) => n.id);
  await waitFor(
    () => nodes.every((n) => n.view.epoch === nodes[0]?.view.epoch && ids.every((id) => n.view.members.some((m) => m.id === id))),
    10_000,
    "every node to see the same view",
  );
  // A new cluster recovers every partition first (probing the members and the log): wait until
  // each one serves, so a test's first call does not measure that.
  await waitFor(
    () => nodes.every((n) => Object.values(n.stats().moves.inMotion).every((c) => c === 0)),
    30_000,
    "every partition to be served",
  );
}

export function tableOf(node: ClusterNode): string[] {
  const t = node.partitionTable;
  return Array.from({ length: t.partitions }, (_, p) => `${t.ownerOf(p)}>${t.backupsOf(p).join(",")}`);
}

/** Appends one token per (caller, actor, round) and checks every actor holds exactly its tokens, in each caller's order. */
export async function exactlyOnce(t: ExecutionContext, callers: ClusterNode[], actors: number, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await Promise.all(callers.flatMap((c, ci) => Array.from({ length: actors }, (_, a) => c.ref(Log, `log-${a}`).append(`${ci}:${r}`))));
  }
  for (let a = 0; a < actors; a++) {
    const tokens = await (callers[a % callers.length] as ClusterNode).ref(Log, `log-${a}`).tokens();
    t.is(tokens.length, callers.length * rounds, `log-${a} holds every token once`);
    t.is(new Set(tokens).size, tokens.length, `log-${a} has no duplicates`);
    for (let ci = 0; ci < callers.length; ci++) {
      t.deepEqual(tokens.filter((x) => x.startsWith(`${ci}:`)), Array.from({ length: rounds }, (_, r) => `${ci}:${r}`));
    }
  }
}

