import test from "ava";
import { connect } from "@nats-io/transport-node";
import { defineActor, sync, updates, type ActorUpdate, type ClusterNode } from "berth";
import { clusterNodes, settled } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";
import { parseExposition } from "../helpers/prometheus.js";

/**
 * Live updates across a cluster on a real NATS server: a watcher on one node receives what an
 * actor on another node publishes; when the owner dies (crash: no goodbye), the successor
 * publishes on the same subject, so the watcher keeps receiving, told that it may have missed
 * some; a forged or malformed frame on the subject is dropped and counted.
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
