import test from "ava";
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { defineActor, sync, updates, type ActorUpdate, type ClusterNode } from "berth";
import { clusterNodes, settled } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor, type NodeProcess } from "../helpers/nodeProcess.js";
import { parseExposition } from "../helpers/prometheus.js";

/**
 * Live updates across a cluster on a real NATS server: a watcher on one node receives what an
 * actor on another node publishes; when the owner dies (crash: no goodbye), the successor
 * publishes on the same subject, so the watcher keeps receiving, told that it may have missed
 * some; a forged or malformed frame on the subject is dropped and counted. Over HTTP, the demo
 * app's `GET /api/cart/updates` streams from any node and outlives a `kill -9` of the owner.
 */

type RoomUpdate = { kind: "posted"; text: string };

const Room = defineActor("room", {
  state: () => ({ posts: [] as string[] }),
  backup: sync({ backups: 1 }),
  updates: updates<RoomUpdate>(),
  handlers: {
    post(ctx, text: string) {
      ctx.state.posts.push(text);
      ctx.publish({ kind: "posted", text });
      return ctx.state.posts.length;
    },
  },
  queries: { posts: (ctx) => ctx.state.posts },
});

const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

/** The first id (room-0, room-1, …) that `owner` owns. */
function roomOwnedBy(nodes: readonly ClusterNode[], owner: ClusterNode): string {
  for (let i = 0; ; i++) if (nodes[0]?.locate(`room-${i}`).owner === owner.id) return `room-${i}`;
}

test.serial("a watcher on one node receives, in order, what an actor on another node publishes; it keeps receiving from the successor after the owner crashes", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const nodes = await clusterNodes(t, { count: 3, cluster, urls: nats.urls, actors: [Room], partitions: 32 });
  const [watcherNode, , ownerNode] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  const id = roomOwnedBy(nodes, ownerNode);
  const got: Array<ActorUpdate<RoomUpdate>> = [];
  watcherNode.watch(Room, id, (u) => got.push(u));
  // A subscription is in place once the server has seen it: one round trip.
  await new Promise((r) => setTimeout(r, 100));
  const room = watcherNode.ref(Room, id);
  for (let i = 1; i <= 20; i++) await room.post(`m${i}`);
  await waitFor(() => got.length === 20, 5_000, "20 updates");
  t.deepEqual(got.map((u) => u.data.text), Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
  t.true(got.every((u) => !u.missed));

  await ownerNode.crash();
  await waitFor(() => !watcherNode.view.members.some((m) => m.id === ownerNode.id), 15_000, "the crashed owner to leave the view");
  await settled(nodes.slice(0, 2));
  t.not(watcherNode.locate(id).owner, ownerNode.id);
  t.is(await room.post("after"), 21, "the successor holds every acknowledged post (sync backup)");
  await waitFor(() => got.length === 21, 5_000, "the successor's update");
  t.is(got[20]?.data.text, "after");
  t.true(got[20]?.missed, "a new publisher: the watcher is told it may have missed updates");
});

test.serial("a malformed or forged frame on an actor's subject is dropped and counted; the watcher keeps watching", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  const nodes = await clusterNodes(t, { count: 2, cluster, urls: nats.urls, actors: [Room], partitions: 32 });
  const [a] = nodes as [ClusterNode, ClusterNode];
  const got: Array<ActorUpdate<RoomUpdate>> = [];
  a.watch(Room, "r1", (u) => got.push(u));
  const subject = `berth.${cluster}.t.u.room.${Buffer.from("r1").toString("base64url")}`;
  const raw = await connect({ servers: nats.urls });
  t.teardown(() => raw.close());
  await new Promise((r) => setTimeout(r, 100));
  const before = parseExposition(a.metrics()).value("berth_malformed_messages_total");
  const garbage = [
    "not a frame",
    "U1",
    "U14:room2:r16:source0:1:2:j1", // update number 0
    "U14:room2:r26:source1:1:2:j1", // another actor's id on this subject
    `U14:room2:r16:source1:101:${"2:j1".repeat(101)}`, // too many updates
    "U14:room2:r16:source1:1:2:j1trailing", // bytes after the last update
    "U14:room2:r16:source1:1:9:j{\"broken", // invalid JSON
  ];
  for (const g of garbage) raw.publish(subject, new TextEncoder().encode(g));
  await raw.flush();
  await a.ref(Room, "r1").post("real");
  await waitFor(() => got.length === 1, 5_000, "the real update");
  t.is(got[0]?.data.text, "real");
  await waitFor(() => parseExposition(a.metrics()).value("berth_malformed_messages_total") - before >= garbage.length, 5_000, "every bad frame counted");
  t.is(parseExposition(a.metrics()).value("berth_malformed_messages_total") - before, garbage.length);
});

/** Reads a Server-Sent Events stream into `events` (`{ event, data }`) until it ends or `stop()`. */
function readEvents(res: Response): { events: Array<{ event: string; data: string }>; stop(): void } {
  const events: Array<{ event: string; data: string }> = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const lines = block.split("\n").filter((l) => !l.startsWith(":"));
        const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        const event = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message";
        if (lines.some((l) => l.startsWith("data: "))) events.push({ event, data });
      }
    }
  })();
  return { events, stop: () => void reader.cancel().catch(() => undefined) };
}

test.serial("HTTP: GET /api/cart/updates streams the session's cart from any node, and keeps streaming after its owner is killed", async (t) => {
  t.timeout(90_000);
  const cluster = uniqueCluster();
  const secret = randomBytes(32).toString("base64");
  const workers: NodeProcess[] = [];
  for (const id of ["a", "b", "c"]) workers.push(await spawnNode({ app: "apps/shopping-cart", urls: nats.urls, cluster, id, args: ["--http", "127.0.0.1:0"], env: { BERTH_SECRET: secret } }));
  const base = new Map(workers.map((w) => [w.id, httpUrl(w)]));
  const add = async (via: string, cookie: string | null, sku: string): Promise<Response> =>
    fetch(new URL("/api/cart/items", via), { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: JSON.stringify({ sku, qty: 1 }) });

  const first = await add(base.get("a") as string, null, "apple");
  t.is(first.status, 200);
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const owner = first.headers.get("x-berth-node") as string;
  const [watcher, other] = workers.filter((w) => w.id !== owner) as [NodeProcess, NodeProcess];

  t.is((await fetch(new URL("/api/cart/updates", base.get(watcher.id)))).status, 401, "no session: nothing to watch");
  t.is((await fetch(new URL("/api/cart/updates", base.get(watcher.id)), { method: "POST", headers: { cookie } })).status, 405);

  const res = await fetch(new URL("/api/cart/updates", base.get(watcher.id)), { headers: { cookie } });
  t.is(res.status, 200);
  t.is(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const stream = readEvents(res);
  t.teardown(() => stream.stop());
  await new Promise((r) => setTimeout(r, 200));
  t.is((await add(base.get(other.id) as string, cookie, "pear")).status, 200);
  await waitFor(() => stream.events.length >= 1, 5_000, "the first update on the stream");
  t.deepEqual(JSON.parse(stream.events[0]?.data ?? "null"), { items: [{ sku: "apple", qty: 1 }, { sku: "pear", qty: 1 }], count: 2 });

  workers.find((w) => w.id === owner)?.signal("SIGKILL");
  // The next add is served by the successor (after the dead owner leaves the view): retry until then.
  await waitFor(async () => (await add(base.get(other.id) as string, cookie, "plum").catch(() => null))?.status === 200, 20_000, "an add after the owner's death");
  await waitFor(() => stream.events.some((e) => e.data.includes("plum")), 5_000, "the successor's update on the same stream");
  const after = stream.events.slice(1);
  t.is(after[0]?.event, "missed", "a new publisher: the stream says updates may have been missed");
  const last = JSON.parse(after[after.length - 1]?.data ?? "null") as { count: number; items: Array<{ sku: string }> };
  t.deepEqual(last.items.map((l) => l.sku).slice(0, 3), ["apple", "pear", "plum"], "the successor holds the cart (sync backup)");
});

function httpUrl(node: NodeProcess): string {
  const m = /"http":"([^"]+)"/.exec(node.output());
  if (!m?.[1]) throw new Error(`node ${node.id} logged no http address:\n${node.output()}`);
  return m[1];
}
