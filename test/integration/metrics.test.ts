import test from "ava";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createNode, defineActor, sync, type ClusterNode } from "berth";
import { readStatus } from "../../framework/src/cli/statusCommand.js";
import { LogSyncBackup } from "../fixtures/log-app/app.js";
import { clusterNodes, settled } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor, type NodeProcess } from "../helpers/nodeProcess.js";
import { parseExposition, type Exposition } from "../helpers/prometheus.js";

/**
 * Metrics on a real NATS server: the exposition of every node parses strictly, and its figures
 * move when calls, replication, moves and recoveries happen; `berth node --metrics` serves it on
 * `GET /metrics` and HTTP nodes on `/_berth/metrics`.
 */

const Cart = defineActor("cart", {
  state: () => ({ items: [] as string[] }),
  backup: sync({ backups: 1 }),
  handlers: {
    add(ctx, sku: string) {
      ctx.state.items.push(sku);
    },
  },
});
const Order = defineActor("order", {
  state: () => ({ lines: [] as string[] }),
  backup: sync({ log: true }),
  handlers: {
    add(ctx, line: string) {
      ctx.state.lines.push(line);
    },
  },
});

const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

/** The metric names docs/guides/metrics.md lists in its tables. */
const documented = (): Set<string> => new Set([...readFileSync("docs/guides/metrics.md", "utf8").matchAll(/^\| `([a-z_:]+)(?:\{[a-z_,]*\})?` \|/gm)].map((m) => m[1] as string));

const scrape = (nodes: readonly ClusterNode[]): Exposition[] => nodes.map((n) => parseExposition(n.metrics()));
const total = (xs: readonly Exposition[], name: string, labels?: Record<string, string>): number => xs.reduce((sum, x) => sum + x.value(name, labels), 0);

test.serial("every node's metrics parse, and move with calls, replication, moves and recoveries", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const nodes = await clusterNodes(t, { count: 2, cluster, urls: nats.urls, actors: [Cart, Order], partitions: 32 });
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  const before = scrape(nodes);
  for (const x of before) {
    t.is(x.types.get("berth_calls_total"), "counter");
    t.is(x.types.get("berth_replication_lag_seconds"), "gauge");
    t.is(x.types.get("berth_recovery_duration_seconds"), "histogram");
    t.is(x.types.get("berth_log_append_duration_seconds"), "histogram");
  }
  t.is(before[0]?.value("berth_cluster_members", { node: "n0", cluster }), 2);
  // The guide lists every metric a node renders, and renders every one it lists (HTTP ones: below).
  const docs = documented();
  const rendered = new Set(before.flatMap((x) => [...x.types.keys()]));
  t.deepEqual([...rendered].filter((n) => !docs.has(n)), [], "rendered but not in docs/guides/metrics.md");
  t.deepEqual([...docs].filter((n) => !n.startsWith("berth_http_") && !rendered.has(n)), [], "in docs/guides/metrics.md but not rendered");
  t.true((before[0]?.value("process_resident_memory_bytes") ?? 0) > 1e6, "the process's resident memory is reported");
  t.is(total(before, "berth_partitions_owned"), 32);

  for (let i = 0; i < 60; i++) await a.ref(Cart, `c${i}`).add("x");
  for (let i = 0; i < 20; i++) await b.ref(Order, `o${i}`).add("y");
  const after = scrape(nodes);
  const diff = (name: string, labels?: Record<string, string>): number => total(after, name, labels) - total(before, name, labels);
  t.is(diff("berth_calls_total"), 80, "every call ran once, on one node");
  t.is(diff("berth_replication_deltas_total"), 80);
  t.is(diff("berth_log_appends_total"), 20);
  t.is(diff("berth_log_append_duration_seconds_count"), 20, "each append's latency was observed");
  t.true(diff("berth_log_append_duration_seconds_sum") > 0);
  t.true(diff("berth_remote_calls_served_total") > 0, "some calls crossed to the other node");
  // Replication bytes are the log's payload plus what went to the hot backups (they used to be uncounted).
  const backupBytes = diff("berth_replication_bytes_total") - diff("berth_log_bytes_total");
  t.true(backupBytes > 60 * 20, `${backupBytes} bytes sent to hot backups for 60 sync writes`);
  t.is(total(after, "berth_backup_copies"), 60, "each cart has one hot copy");
  t.true(total(after, "berth_replication_lag_seconds") >= 0);
  t.true(total(after, "berth_actors_active") >= 80);

  // A join: the newcomer pulls its partitions; its moves and their durations show.
  const c = await createNode({ actors: [Cart, Order], nats: { servers: nats.urls }, cluster, id: "n2", logger: "warn", partitions: 32 });
  t.teardown(() => c.stop());
  await settled([a, b, c]);
  const joined = parseExposition(c.metrics());
  const finished = joined.value("berth_moves_finished_total");
  t.true(finished > 0, `${finished} moves finished on the newcomer`);
  t.is(joined.value("berth_moves_started_total"), finished + joined.value("berth_moves_aborted_total"));
  t.is(joined.value("berth_move_duration_seconds_count"), finished);
  t.true(joined.value("berth_partitions_owned") > 0);

  // A crash: the survivors recover its partitions; recoveries and their durations show.
  const recoveredBefore = total(scrape([a, c]), "berth_recoveries_total");
  await b.crash();
  await waitFor(() => a.view.members.length === 2 && c.view.members.length === 2, 10_000, "the crashed node to be removed");
  await settled([a, c]);
  const survivors = scrape([a, c]);
  const recoveries = total(survivors, "berth_recoveries_total") - recoveredBefore;
  t.true(recoveries > 0, `${recoveries} partitions recovered`);
  for (const x of survivors) t.is(x.value("berth_recovery_duration_seconds_count"), x.value("berth_recoveries_total"));
  t.true(total(survivors, "berth_recovery_duration_seconds_sum") > 0);
  t.log(`recoveries ${recoveries} (${total(survivors, "berth_recovery_duration_seconds_sum").toFixed(3)} s in all), moves finished on the newcomer ${finished}`);
});

test.serial("berth status shows each node's call, delta and replication byte rates from its record", async (t) => {
  t.timeout(30_000);
  const cluster = uniqueCluster();
  const node = await createNode({ actors: [Order], nats: { servers: nats.urls }, cluster, id: "solo", logger: "warn", partitions: 8, membership: { recordEveryMs: 300 } });
  t.teardown(() => node.stop());
  await settled([node]);
  let i = 0;
  let stop = false;
  const load = (async () => {
    while (!stop) await node.ref(Order, `o${i % 10}`).add(`line-${i++}`);
  })();
  await new Promise((r) => setTimeout(r, 1_000)); // several records written under load
  const status = await readStatus(nats.urls, cluster); // read while the load still runs
  stop = true;
  await load;
  const rates = status.members.find((m) => m.id === "solo")?.rates;
  t.log(`${i} writes in ~1 s; the record says ${JSON.stringify(rates)}`);
  t.truthy(rates);
  t.true((rates?.calls ?? 0) > 0);
  t.true((rates?.deltas ?? 0) > 0);
  t.true((rates?.bytes ?? 0) > 0, "log appends count as replication bytes");
});

function loggedUrl(node: NodeProcess, field: string): string {
  const m = new RegExp(`"${field}":"([^"]+)"`).exec(node.output());
  if (!m?.[1]) throw new Error(`node ${node.id} logged no ${field} address:\n${node.output()}`);
  return m[1];
}

test.serial("berth node --metrics serves the exposition on GET /metrics, and its figures move with traffic", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const workers = await Promise.all(["w1", "w2"].map((id) => spawnNode({ app: "test/fixtures/log-app", urls: nats.urls, cluster, id, args: ["--metrics", "127.0.0.1:0"] })));
  const gateway = await createNode({ actors: [LogSyncBackup], nats: { servers: nats.urls }, cluster, id: "gw", roles: ["gateway"], logger: "warn" });
  t.teardown(() => gateway.stop());
  await waitFor(() => gateway.view.members.filter((m) => m.roles.includes("worker")).length === 2, 10_000, "both workers in the view");
  const urls = workers.map((w) => loggedUrl(w, "metrics"));
  const fetchAll = async (): Promise<Exposition[]> =>
    Promise.all(
      urls.map(async (url) => {
        const res = await fetch(url);
        t.is(res.status, 200);
        t.is(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
        return parseExposition(await res.text());
      }),
    );
  await waitFor(async () => (await fetchAll()).every((x) => x.value("berth_lease_valid") === 1 && x.value("berth_node_state", { state: "up" }) === 1), 10_000, "both workers up");
  const before = await fetchAll();
  t.deepEqual(before.map((x) => x.samples[0]?.labels.node), ["w1", "w2"]);
  for (let i = 0; i < 50; i++) await gateway.ref(LogSyncBackup, `s${i}`).append(`t${i}`);
  const after = await fetchAll();
  t.is(total(after, "berth_calls_total") - total(before, "berth_calls_total"), 50);
  t.is(total(after, "berth_remote_calls_served_total") - total(before, "berth_remote_calls_served_total"), 50, "every call came from the gateway");
  t.is(total(after, "berth_replication_deltas_total") - total(before, "berth_replication_deltas_total"), 50);
  t.true(total(after, "berth_replication_bytes_total") > total(before, "berth_replication_bytes_total"));
  const other = await fetch(new URL("/", urls[0]));
  t.is(other.status, 404);
  t.is((await fetch(urls[0] as string, { method: "POST" })).status, 405);
  for (const w of workers) w.signal("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
});

test.serial("an HTTP node also serves its metrics, HTTP counters included, at /_berth/metrics", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const worker = await spawnNode({ app: "apps/shopping-cart", urls: nats.urls, cluster, id: "web", args: ["--http", "127.0.0.1:0"], env: { BERTH_SECRET: randomBytes(32).toString("base64") } });
  const base = loggedUrl(worker, "http");
  const metrics = async (): Promise<Exposition> => {
    const res = await fetch(new URL("/_berth/metrics", base));
    t.is(res.status, 200);
    return parseExposition(await res.text());
  };
  await waitFor(async () => (await fetch(new URL("/_berth/health", base))).status === 200, 10_000, "the node to be up");
  const before = await metrics();
  t.is(before.types.get("berth_http_requests_total"), "counter");
  const docs = documented();
  t.deepEqual([...before.types.keys()].filter((n) => !docs.has(n)), [], "rendered but not in docs/guides/metrics.md");
  for (let i = 0; i < 5; i++) {
    const res = await fetch(new URL("/api/cart/items", base), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sku: `sku-${i}`, qty: 1 }) });
    t.is(res.status, 200);
  }
  const after = await metrics();
  t.is(after.value("berth_http_requests_total", { handled: "local" }) - before.value("berth_http_requests_total", { handled: "local" }), 5);
  t.is(after.value("berth_calls_total") - before.value("berth_calls_total"), 5);
  t.is(after.value("berth_actors_active"), 5, "each request without a cookie started its own session");
  worker.signal("SIGTERM");
  await worker.exited;
});
