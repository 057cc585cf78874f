import test from "ava";
import { connect } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import type { ClusterNode } from "berth";
import { Log } from "../fixtures/log-app/app.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { killAllNodes, spawnNode, waitFor } from "../helpers/nodeProcess.js";
import { exactlyOnce, inProcessNodes, tableOf } from "../helpers/cluster.js";
import { encodeItem } from "../../framework/src/replication/itemWire.js";
import type { ReplItem } from "../../framework/src/replication/items.js";

/** A replication control frame ("X3": a packed head, then encoded items). */
function x3(head: string, item: ReplItem): Uint8Array {
  return new TextEncoder().encode(`X3${head.length + 1}:j${head}${encodeItem(item).map((w) => w.text).join("")}`);
}

const APP = "test/fixtures/log-app";
const nats = natsForFile("single");
test.afterEach.always(() => killAllNodes());

test.serial("three nodes agree on one view and one partition table", async (t) => {
  const nodes = await inProcessNodes(t, 3, uniqueCluster(), nats.urls);
  const [a, b, c] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  t.deepEqual(b.view, a.view);
  t.deepEqual(c.view, a.view);
  t.deepEqual(tableOf(b), tableOf(a));
  t.deepEqual(tableOf(c), tableOf(a));
  const owned = nodes.map((n) => n.stats().partitionsOwned);
  t.is(owned.reduce((x, y) => x + y, 0), 1024, "every partition has exactly one owner");
  t.true(Math.max(...owned) / (1024 / 3) <= 1.25, `balanced: ${owned.join(", ")}`);
  await Promise.all(nodes.map((n) => n.stop()));
});

test.serial("calls from every node reach every actor exactly once, in each caller's order", async (t) => {
  const nodes = await inProcessNodes(t, 3, uniqueCluster(), nats.urls);
  await exactlyOnce(t, nodes, 60, 5);
  const remote = nodes.reduce((n, x) => n + x.stats().rpc.served, 0);
  t.true(remote > 0, "some calls crossed NATS");
  await Promise.all(nodes.map((n) => n.stop()));
});

test.serial("a gateway routes every call to the owner and hosts nothing", async (t) => {
  const cluster = uniqueCluster();
  const nodes = await inProcessNodes(t, 3, cluster, nats.urls, ["worker", "worker", "gateway"]);
  const gateway = nodes[2] as ClusterNode;
  t.is(gateway.stats().partitionsOwned, 0);
  await exactlyOnce(t, [gateway], 40, 3);
  t.is(gateway.stats().active, 0, "no actor was activated on the gateway");
  await Promise.all(nodes.map((n) => n.stop()));
});

test.serial("node processes: a late joiner joins, SIGTERM leaves, SIGKILL is declared down within the detection time", async (t) => {
  const cluster = uniqueCluster();
  const a = await spawnNode({ app: APP, urls: nats.urls, cluster, id: "a" });
  const b = await spawnNode({ app: APP, urls: nats.urls, cluster, id: "b", args: ["--shutdown-timeout", "45s"] }); // a duration is accepted too
  const [observer] = await inProcessNodes(t, 1, cluster, nats.urls, ["gateway"]);
  const gw = observer as ClusterNode;
  await waitFor(() => gw.view.members.length === 3, 5_000, "a, b and the gateway in the view");
  const call = (i: number) => gw.ref(Log, `k${i}`).append(`x${i}`);
  t.true((await Promise.all(Array.from({ length: 50 }, (_, i) => call(i)))).every((n) => n >= 1));

  const c = await spawnNode({ app: APP, urls: nats.urls, cluster, id: "c" });
  await waitFor(() => gw.view.members.some((m) => m.id === "c"), 5_000, "c to join");
  t.is(gw.partitionTable.members.length, 3);
  t.true((await Promise.all(Array.from({ length: 50 }, (_, i) => call(i)))).every((n) => n >= 1), "calls succeed after the join");

  b.signal("SIGTERM");
  const leftMs = await waitFor(() => !gw.view.members.some((m) => m.id === "b"), 5_000, "b to leave");
  t.is(await b.exited, 0, "b exited cleanly");
  t.log(`graceful leave took ${leftMs} ms`);
  t.true((await Promise.all(Array.from({ length: 50 }, (_, i) => call(i)))).every((n) => n >= 1), "calls succeed after the leave");

  const killedAt = Date.now();
  c.signal("SIGKILL");
  await waitFor(() => !gw.view.members.some((m) => m.id === "c"), 10_000, "c to be declared down");
  const detectMs = Date.now() - killedAt;
  t.log(`SIGKILL detected in ${detectMs} ms (default downAfterMs 1500)`);
  t.true(detectMs <= 2_000, `declared down within 2 s (took ${detectMs} ms)`);
  t.true((await Promise.all(Array.from({ length: 50 }, (_, i) => call(i)))).every((n) => n >= 1), "calls succeed after the kill");

  a.signal("SIGTERM");
  t.is(await a.exited, 0);
  await gw.stop();
});

test.serial("malformed traffic on every cluster subject is survived, counted, and the view repaired", async (t) => {
  const cluster = uniqueCluster();
  const a = await spawnNode({ app: APP, urls: nats.urls, cluster, id: "a" });
  const nodes = await inProcessNodes(t, 2, cluster, nats.urls);
  await waitFor(() => nodes.every((n) => n.view.members.length === 3), 5_000, "three members");
  const epochBefore = nodes[0]?.view.epoch ?? 0;
  const raw = await connect({ servers: nats.urls });
  const garbage = (): Uint8Array[] => [
    new Uint8Array(0),
    randomBytes(64),
    randomBytes(4096),
    new TextEncoder().encode("{"),
    new TextEncoder().encode("null"),
    new TextEncoder().encode(JSON.stringify({ v: 1, c: "x", t: "log", i: "k", m: "append", a: { j: "not-an-array" }, l: 1000, e: 1, f: "evil" })),
    new TextEncoder().encode(JSON.stringify({ v: 1, c: "x", t: "log", i: "k", m: "append", a: { j: ["t"], m: { values: { 0: ["class", "Evil"] } } }, l: 1000, e: 1, f: "evil" })),
    new TextEncoder().encode(JSON.stringify({ v: 1, c: "x", t: "nope", i: "k", m: "append", a: { j: ["t"] }, l: 1000, e: 1, f: "evil" })),
    new TextEncoder().encode(JSON.stringify({ id: "ghost", incarnation: "x", epoch: 1e12, state: "up" })),
    new TextEncoder().encode(JSON.stringify({ epoch: 999, members: [{ id: "a", roles: ["king"], capacity: -1, incarnation: 5 }] })),
    new TextEncoder().encode("C12:c13:log1:k6:append1:f1000:1:j[1,2,3]"),
    new Uint8Array([0x00, 0x42, 0x01, 0x00, 0x05, 0x01]), // a truncated batch frame
    new Uint8Array([0x00, 0x42, 0x01, 0xff, 0xff]), // a batch claiming 65535 items
    // Control frames (replication, moves): each malformed one gets a control error reply.
    new TextEncoder().encode("X2j{"),
    new TextEncoder().encode('X2j{"op":"repl","e":1,"from":"evil","items":"not-a-list"}'),
    new TextEncoder().encode('X2j{"op":"repl","e":1,"from":"a","items":[{"k":"d","p":-1,"t":"log","i":"k","s":1,"d":[]}]}'),
    new TextEncoder().encode('X2j{"op":"noSuchOp"}'),
    new TextEncoder().encode('X35:j{"op'),
    new TextEncoder().encode(`X3${'j{"op":"repl","e":1,"from":"a"}'.length}:j{"op":"repl","e":1,"from":"a"}d3:1:log1:k1:5:1:z`),
    new TextEncoder().encode('X2s{"json":{"op":"pull"},"meta":{"values":{"op":["class","Evil"]}}}'),
    // Well-formed items, but of a partition the cluster does not have, or under an epoch that is not a number of views.
    x3('{"op":"repl","e":1,"from":"a"}', { k: "d", p: 5_000, t: "log", i: "k", s: 1, d: [], lu: 1 }),
    x3('{"op":"repl","e":1e999,"from":"a"}', { k: "x", p: 1, t: "log", i: "k", s: 1 }),
  ];
  const subjects = [`berth.${cluster}.rpc.a`, `berth.${cluster}.rpc.n0`, `berth.${cluster}.rpc.n1`, `berth.${cluster}.t.hb`, `berth.${cluster}.t.view`, `berth.${cluster}.other`, `$KV.berth_${cluster}_view.view`, `$KV.berth_${cluster}_nodes.a`];
  const replies: Promise<unknown>[] = [];
  for (const subject of subjects) {
    for (const payload of garbage()) {
      raw.publish(subject, payload);
      if (subject.includes(".rpc.")) replies.push(raw.request(subject, payload, { timeout: 2_000 }).then((m) => new TextDecoder().decode(m.data)));
    }
  }
  await raw.flush();
  const answers = (await Promise.allSettled(replies)).map((r) => (r.status === "fulfilled" ? String(r.value) : "no reply"));
  // Malformed call frames get an error reply; malformed batch frames carry no addressable
  // request, so they are dropped and counted (their senders would time out and retry).
  const unanswered = answers.filter((x) => x === "no reply").length;
  t.is(unanswered, 2 * 3, "only the two bad batch frames (sent to three nodes) went unanswered");
  const isErrorReply = (x: string): boolean => x.startsWith("R1e") || (x.startsWith("Y2") && x.includes('"ok":false'));
  t.true(answers.filter((x) => x !== "no reply").every(isErrorReply), `every other malformed request got an error reply: ${answers.find((x) => x !== "no reply" && !isErrorReply(x))}`);
  t.is(answers.filter((x) => x.startsWith("Y2")).length, 9 * 3, "each malformed control frame got a control error reply from each of the three nodes");
  t.true(answers.some((x) => x.includes("malformed-message")));
  t.is(answers.filter((x) => x.includes("replication item of partition 5000; this cluster has 1024")).length, 3, "an item of a partition out of range is refused as malformed");
  t.is(answers.filter((x) => x.includes("replication epoch must be an integer")).length, 3, "so is an epoch that is not a view count");
  t.true(answers.some((x) => x.includes("arity") || x.includes("unknown")), `a well-formed call with wrong arguments was refused by the actor layer: ${answers.filter((x) => !x.includes("malformed-message")).join(" | ").slice(0, 3000)}`);

  // A well-formed pull from a non-member gets nothing: no actors, no backup copies.
  for (const subject of subjects.filter((x) => x.includes(".rpc."))) {
    const reply = new TextDecoder().decode((await raw.request(subject, new TextEncoder().encode('X2j{"op":"pull","p":1,"e":1,"from":"nobody"}'), { timeout: 2_000 })).data);
    t.regex(reply, /^Y2j\{"ok":true,"r":\{"status":"refused"\}\}$/, `${subject}: ${reply.slice(0, 200)}`);
  }

  // The cluster keeps serving, with correct results, on the same members.
  await exactlyOnce(t, nodes, 20, 3);
  await waitFor(() => nodes.every((n) => n.view.members.length === 3 && n.view.epoch > epochBefore), 5_000, "the view to be repaired");
  t.deepEqual(nodes.map((n) => n.view.members.map((m) => m.id)), [["a", "n0", "n1"], ["a", "n0", "n1"]]);
  t.true(nodes.some((n) => n.stats().rpc.malformed > 0), "malformed requests were counted");
  t.is(a.child.exitCode, null, "the node process is still running");
  await raw.close();
  a.signal("SIGTERM");
  await a.exited;
  await Promise.all(nodes.map((n) => n.stop()));
});
