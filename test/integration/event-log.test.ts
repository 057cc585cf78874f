import test, { type ExecutionContext } from "ava";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import {
  EventLogClosedError,
  InvalidLogEntryError,
  openEventLog,
  type EventLog,
  type EventLogOptions,
  type LogEntry,
  type StoredEntry,
} from "../../framework/src/replication/log/index.js";
import { PayloadTooLargeError } from "../../framework/src/errors.js";
import { startTestNats, uniqueCluster, type TestNats } from "../helpers/nats.js";

/**
 * The event log (framework/src/replication/log) against a real nats-server 2.9.10: one shared
 * single server for the contract tests (each test has its own Berth cluster name, so its own
 * stream), and a 3-server cluster of its own for the R3 failover test.
 */

const silent = pino({ level: "silent" });
let nats: TestNats | undefined;

test.before(async () => {
  nats = await startTestNats("single");
});
test.after.always(async () => {
  await nats?.stop();
});

interface Opened {
  readonly nc: NatsConnection;
  readonly log: EventLog;
  readonly cluster: string;
  readonly stream: string;
}

async function open(t: ExecutionContext, urls: readonly string[], options: Partial<EventLogOptions> = {}): Promise<Opened> {
  const nc = await connect({ servers: [...urls], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  t.teardown(async () => {
    if (!nc.isClosed()) await nc.close();
  });
  const cluster = options.cluster ?? uniqueCluster();
  const log = await openEventLog(nc, { log: silent, ...options, cluster });
  t.teardown(() => log.close());
  return { nc, log, cluster, stream: `berth_${cluster}_log` };
}

function single(t: ExecutionContext, options: Partial<EventLogOptions> = {}): Promise<Opened> {
  if (nats === undefined) throw new Error("no NATS server");
  return open(t, nats.urls, options);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

function entry(over: Partial<LogEntry> & Pick<LogEntry, "seq">): LogEntry {
  return { kind: "delta", actorType: "cart", actorId: "a", partition: 1, epoch: 1, payload: text(`p${over.seq}`), ...over };
}

/** What tests compare: everything but the payload bytes, plus the payload as text. */
function view(entries: readonly StoredEntry[]): Array<{ kind: string; seq: number; epoch: number; payload: string }> {
  return entries.map((e) => ({ kind: e.kind, seq: e.seq, epoch: e.epoch, payload: decode(e.payload) }));
}

async function messagesIn(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

// ---------------------------------------------------------------------------------------------
// 9. R3 failover. Serial, so it runs alone (before the concurrent tests): leader elections are
//    timing-sensitive on 2 shared cores.
// ---------------------------------------------------------------------------------------------

test.serial("R3: appends acknowledged before the stream leader is SIGKILLed survive, and appends retried through the election succeed", async (t) => {
  t.timeout(45_000, "the R3 failover test should take well under 40 s");
  const started = Date.now();
  let phaseStart = started;
  const phases: string[] = [];
  const phase = (what: string): void => {
    phases.push(`${what} ${Date.now() - phaseStart} ms`);
    phaseStart = Date.now();
  };
  const cluster = await startTestNats("cluster");
  t.teardown(() => cluster.stop());
  phase("cluster start");
  const { nc, log, stream } = await open(t, cluster.urls);
  const jsm = await jetstreamManager(nc);
  const before = await jsm.streams.info(stream);
  t.is(before.config.num_replicas, 3, "a clustered server gets an R3 stream by default");

  // 8 partitions: readPartitions takes them in one pass over the whole stream; readPartition and
  // readActor read through filtered consumers.
  const actorsPerPartition = 3;
  const partitions = [0, 1, 2, 3, 4, 5, 6, 7];
  const expected = new Map<string, string[]>(); // `${p}|cart/${id}` → payloads in order
  const expect = (e: LogEntry): void => {
    const key = `${e.partition}|${e.actorType}/${e.actorId}`;
    expected.set(key, [...(expected.get(key) ?? []), decode(e.payload)]);
  };
  const batch = (round: number, seqFrom: number, count: number): LogEntry[] => {
    const out: LogEntry[] = [];
    for (const p of partitions) {
      for (let a = 0; a < actorsPerPartition; a++) {
        for (let s = seqFrom; s < seqFrom + count; s++) {
          out.push(entry({ kind: s === 1 ? "snapshot" : "delta", partition: p, actorId: `p${p}-a${a}`, seq: s, epoch: 1, payload: text(`r${round} p${p} a${a} s${s}`) }));
        }
      }
    }
    return out;
  };

  // Acknowledged before the kill: 8 partitions × 3 actors × 5 entries, each actor's entries in order.
  const first = batch(1, 1, 5);
  for (let s = 0; s < 5; s++) await Promise.all(first.filter((e) => e.seq === s + 1).map((e) => log.append(e)));
  first.forEach(expect);
  phase("open and first appends");

  const info = await jsm.streams.info(stream);
  t.is(info.state.messages, first.length);
  const leaderName = info.cluster?.leader;
  const leader = cluster.servers.find((s) => s.name === leaderName);
  if (leader === undefined) return t.fail(`no stream leader among ${cluster.servers.map((s) => s.name).join(", ")} (got ${String(leaderName)})`);
  const retriesBefore = log.stats().appendRetries;
  const killedAt = Date.now();
  leader.kill("SIGKILL");

  // Issued at once, so they meet the election; each actor's entries stay in order.
  const second = batch(2, 6, 3);
  for (let s = 6; s < 9; s++) {
    const results = await Promise.allSettled(second.filter((e) => e.seq === s).map((e) => log.append(e, { timeoutMs: 15_000 })));
    const failed = results.filter((r) => r.status === "rejected");
    t.is(failed.length, 0, `appends of seq ${s} through the election: ${failed.map((r) => String(r.reason)).slice(0, 3).join("; ")}`);
  }
  second.forEach(expect);
  const electionMs = Date.now() - killedAt;
  t.log(`killed stream leader ${leader.name} (pid ${leader.pid}); the ${second.length} appends after it took ${electionMs} ms, ${log.stats().appendRetries - retriesBefore} retries`);
  t.true(log.stats().appendRetries > retriesBefore, "appends were retried through the election");

  const check = async (label: string): Promise<void> => {
    const got = await log.readPartitions(partitions);
    for (const p of partitions) {
      const actors = got.get(p);
      t.is(actors?.size, actorsPerPartition, `${label}: partition ${p} has every actor`);
      for (let a = 0; a < actorsPerPartition; a++) {
        const entries = actors?.get(`cart/p${p}-a${a}`) ?? [];
        t.deepEqual(entries.map((e) => decode(e.payload)), expected.get(`${p}|cart/p${p}-a${a}`), `${label}: p${p} a${a}`);
        t.true(entries.every((e, i) => i === 0 || e.streamSeq > (entries[i - 1]?.streamSeq ?? 0)), "stream order");
      }
    }
    const [p5, one] = await Promise.all([log.readPartition(5), log.readActor("cart", "p3-a2", 3)]);
    t.deepEqual(p5, got.get(5), `${label}: readPartition`);
    t.deepEqual(one.map((e) => decode(e.payload)), expected.get("3|cart/p3-a2"), `${label}: readActor`);
  };
  phase("appends through the election");
  await check("with one server down");
  phase("reads with one server down");
  const total = (await jsm.streams.info(stream)).state.messages;
  t.is(total, first.length + second.length, "each retried append stored once");

  // The killed server comes back and catches up; reads (wherever their consumer lands) still see everything.
  await leader.restart();
  phase("restart");
  for (let i = 0; i < 3; i++) await check(`after the restart (${i + 1})`);
  phase("reads after the restart");
  t.log(`R3 test took ${Date.now() - started} ms: ${phases.join(", ")}`);
});

// ---------------------------------------------------------------------------------------------
// Single server
// ---------------------------------------------------------------------------------------------

test("1. append → readActor / readPartition / readPartitions round trip: payload bytes, stream order, seq", async (t) => {
  const { log } = await single(t);
  const binary = new Uint8Array(256).map((_, i) => i);
  const id = "ü/ä.b c*>😀"; // dots, wildcards, spaces, non-BMP: all base64url in the subject
  const written: LogEntry[] = [
    { kind: "snapshot", actorType: "cart", actorId: id, partition: 7, epoch: 2, seq: 1, payload: binary },
    { kind: "delta", actorType: "cart", actorId: id, partition: 7, epoch: 2, seq: 2, payload: new Uint8Array(0) },
    { kind: "delta", actorType: "cart", actorId: "other", partition: 7, epoch: 3, seq: 1, payload: text("x") },
    { kind: "delta", actorType: "cart", actorId: id, partition: 7, epoch: 3, seq: 3, payload: text("third") },
    { kind: "delta", actorType: "Order_2-x", actorId: id, partition: 7, epoch: 3, seq: 1, payload: text("another type") },
    { kind: "delta", actorType: "cart", actorId: id, partition: 8, epoch: 3, seq: 1, payload: text("another partition") },
  ];
  const acks: number[] = [];
  for (const e of written) acks.push((await log.append(e)).streamSeq);
  t.deepEqual(acks, [1, 2, 3, 4, 5, 6], "stream sequences in append order");

  const mine = await log.readActor("cart", id, 7);
  t.deepEqual(
    mine.map((e) => ({ ...e, payload: [...e.payload] })),
    [written[0], written[1], written[3]].map((e, i) => ({ ...e!, payload: [...e!.payload], streamSeq: [1, 2, 4][i] })),
  );
  t.true(mine[0]?.payload instanceof Uint8Array);

  const p7 = await log.readPartition(7);
  t.deepEqual([...p7.keys()].sort(), ["Order_2-x/" + id, "cart/" + id, "cart/other"].sort());
  t.deepEqual(p7.get(`cart/${id}`)?.map((e) => e.streamSeq), [1, 2, 4]);
  t.deepEqual(view(p7.get("cart/other") ?? []), [{ kind: "delta", seq: 1, epoch: 3, payload: "x" }]);
  t.deepEqual(p7.get(`Order_2-x/${id}`)?.map((e) => [e.actorType, e.actorId, e.partition]), [["Order_2-x", id, 7]]);
  t.deepEqual(view((await log.readPartition(8)).get(`cart/${id}`) ?? []), [{ kind: "delta", seq: 1, epoch: 3, payload: "another partition" }]);
  t.is((await log.readPartition(9)).size, 0, "an empty partition");
  t.deepEqual(await log.readActor("cart", "nobody", 7), []);

  // A caller may mutate what it gets without affecting another caller's copy.
  const [r1, r2] = await Promise.all([log.readPartition(7), log.readPartition(7)]);
  r1.get("cart/other")?.pop();
  t.is(r2.get("cart/other")?.length, 1);

  // Few partitions are read one by one; 8 or more in one pass over the whole stream: same answers.
  const few = await log.readPartitions([7, 8, 7]);
  t.deepEqual([...few.keys()], [7, 8]);
  const many = await log.readPartitions([7, 8, 9, 10, 11, 12, 13, 14, 15]);
  t.is(many.size, 9);
  t.deepEqual(many.get(7), few.get(7));
  t.deepEqual(many.get(8), few.get(8));
  t.deepEqual(many.get(7), p7);
  t.is(many.get(15)?.size, 0);

  const s = log.stats();
  t.is(s.appends, written.length);
  t.is(s.bytesAppended, written.reduce((n, e) => n + e.payload.length, 0));
  t.is(s.appendFailures, 0);
  t.is(s.malformed, 0);
  t.is(s.fenced, 0);
  t.true(s.appendLatencyP50Ms > 0 && s.appendLatencyP99Ms >= s.appendLatencyP50Ms);
});

test("2. msgID idempotency: the same (type, id, epoch, seq) is stored once", async (t) => {
  const { nc, log, stream } = await single(t);
  const e = entry({ seq: 1, payload: text("first") });
  const a = await log.append(e);
  const b = await log.append(e);
  t.is(b.streamSeq, a.streamSeq, "a duplicate is acknowledged with the original's stream sequence");
  const c = await log.append({ ...e, payload: text("a different payload"), kind: "snapshot" });
  t.is(c.streamSeq, a.streamSeq, "the message id is (type, id, epoch, seq): payload and kind do not count");
  const concurrent = await Promise.all([log.append(entry({ seq: 2 })), log.append(entry({ seq: 2 })), log.append(entry({ seq: 2 }))]);
  t.is(new Set(concurrent.map((x) => x.streamSeq)).size, 1, "concurrent duplicates are stored once");
  t.is(await messagesIn(nc, stream), 2);
  t.deepEqual(view(await log.readActor("cart", "a", 1)), [
    { kind: "delta", seq: 1, epoch: 1, payload: "first" },
    { kind: "delta", seq: 2, epoch: 1, payload: "p2" },
  ]);

  // Any component changing makes a new message.
  await log.append(entry({ seq: 1, epoch: 2 }));
  await log.append(entry({ seq: 1, actorId: "b" }));
  await log.append(entry({ seq: 1, actorType: "other" }));
  t.is(await messagesIn(nc, stream), 5);
  t.is(log.stats().appends, 9, "duplicates count as acknowledged appends");

  // Markers: msgID marker:<partition>:<epoch>.
  const m1 = await log.markTakeover({ partition: 1, epoch: 4, node: "n1" });
  const m2 = await log.markTakeover({ partition: 1, epoch: 4, node: "n2" });
  t.is(m2.streamSeq, m1.streamSeq);
  t.is(await messagesIn(nc, stream), 6);
});

test("3. snapshots restart a history, tombstones end it, entries after a tombstone start a new one", async (t) => {
  const { log } = await single(t);
  const p = 4;
  const put = (actorId: string, kind: LogEntry["kind"], seq: number) => log.append(entry({ partition: p, actorId, kind, seq }));
  // x: deltas, a snapshot, a delta → from the snapshot on.
  await put("x", "delta", 1);
  await put("x", "delta", 2);
  await put("x", "snapshot", 3);
  await put("x", "delta", 4);
  // y: ends with a tombstone → omitted.
  await put("y", "snapshot", 1);
  await put("y", "delta", 2);
  await put("y", "tombstone", 3);
  // z: a tombstone, then deltas without a snapshot → only those after the tombstone.
  await put("z", "snapshot", 1);
  await put("z", "tombstone", 2);
  await put("z", "delta", 3);
  await put("z", "delta", 4);
  // w: a tombstone, then a snapshot, a delta, another snapshot.
  await put("w", "delta", 1);
  await put("w", "tombstone", 2);
  await put("w", "snapshot", 3);
  await put("w", "delta", 4);
  await put("w", "snapshot", 5);
  await put("w", "delta", 6);
  // v: only a tombstone.
  await put("v", "tombstone", 1);

  const got = await log.readPartition(p);
  t.deepEqual([...got.keys()].sort(), ["cart/w", "cart/x", "cart/z"]);
  t.deepEqual(got.get("cart/x")?.map((e) => [e.kind, e.seq]), [["snapshot", 3], ["delta", 4]]);
  t.deepEqual(got.get("cart/z")?.map((e) => [e.kind, e.seq]), [["delta", 3], ["delta", 4]]);
  t.deepEqual(got.get("cart/w")?.map((e) => [e.kind, e.seq]), [["snapshot", 5], ["delta", 6]]);
  for (const list of got.values()) t.false(list.some((e) => e.kind === "tombstone"), "no tombstones returned");

  t.deepEqual(await log.readActor("cart", "y", p), []);
  t.deepEqual(await log.readActor("cart", "v", p), []);
  t.deepEqual((await log.readActor("cart", "x", p)).map((e) => e.seq), [3, 4]);
  t.deepEqual((await log.readActor("cart", "z", p)).map((e) => e.seq), [3, 4]);
  t.deepEqual((await log.readActor("cart", "w", p)).map((e) => e.seq), [5, 6]);

  // y comes back after its tombstone.
  await put("y", "delta", 4);
  t.deepEqual((await log.readPartition(p)).get("cart/y")?.map((e) => [e.kind, e.seq]), [["delta", 4]]);
});

test("4. fencing: entries below the highest earlier takeover marker's epoch are skipped and counted", async (t) => {
  const { log } = await single(t);
  const p = 3;
  // Before any marker every epoch is valid — but a snapshot supersedes what is at or below its
  // (epoch, seq): the epoch-3 delta after an epoch-4 snapshot is a deposed owner's, as if fenced.
  await log.append(entry({ partition: p, seq: 1, epoch: 4, kind: "snapshot" }));
  await log.append(entry({ partition: p, seq: 2, epoch: 3 }));
  await log.append(entry({ partition: p, actorId: "b", seq: 1, epoch: 1 }));
  await log.markTakeover({ partition: p, epoch: 5, node: "n2" });
  await log.append(entry({ partition: p, seq: 3, epoch: 4 })); // the deposed writer: fenced
  await log.append(entry({ partition: p, seq: 4, epoch: 4, kind: "snapshot" })); // fenced, and must not restart the history
  await log.append(entry({ partition: p, actorId: "b", seq: 2, epoch: 4, kind: "tombstone" })); // fenced, so b stays alive
  await log.append(entry({ partition: p, seq: 5, epoch: 5 }));
  await log.append(entry({ partition: p, seq: 6, epoch: 6 }));
  // A marker of another partition fences nothing here; one of a lower epoch does not lower the fence.
  await log.markTakeover({ partition: p + 1, epoch: 100, node: "n3" });
  await log.markTakeover({ partition: p, epoch: 2, node: "n1" });
  await log.append(entry({ partition: p, seq: 7, epoch: 4 })); // still fenced (the fence is 5)
  await log.append(entry({ partition: p, seq: 8, epoch: 5 }));
  await log.append(entry({ partition: p + 1, actorId: "c", seq: 1, epoch: 99 })); // fenced in p+1
  await log.append(entry({ partition: p + 2, actorId: "d", seq: 1, epoch: 0 })); // no marker in p+2

  const fenced0 = log.stats().fenced;
  const partition = await log.readPartition(p);
  t.is(log.stats().fenced - fenced0, 4, "the 4 lower-epoch entries after the marker");
  t.deepEqual(partition.get("cart/a")?.map((e) => [e.seq, e.epoch]), [[1, 4], [5, 5], [6, 6], [8, 5]]);
  t.deepEqual(partition.get("cart/b")?.map((e) => [e.seq, e.epoch]), [[1, 1]]);

  const actor = await log.readActor("cart", "a", p);
  t.deepEqual(actor.map((e) => e.seq), [1, 5, 6, 8]);
  t.is(log.stats().fenced - fenced0, 7, "readActor counts a's 3 fenced entries too");

  t.deepEqual((await log.readPartition(p + 1)).size, 0, "c fenced by its own partition's marker");
  t.is(log.stats().fenced - fenced0, 8);
  t.deepEqual((await log.readActor("cart", "d", p + 2)).map((e) => e.epoch), [0]);

  // The whole-stream pass (8+ partitions) applies the same rule.
  const many = await log.readPartitions([p, p + 1, p + 2, 10, 11, 12, 13, 14]);
  t.deepEqual(many.get(p), partition);
  t.is(many.get(p + 1)?.size, 0);
  t.is(log.stats().fenced - fenced0, 8 + 5);
});

test("5. garbage on the log's subjects is skipped and counted, never thrown", async (t) => {
  const { nc, log, cluster } = await single(t);
  const js = jetstream(nc);
  const p = 9;
  const prefix = `berth.${cluster}.log.`;
  const okSubject = `${prefix}${p}.cart.${Buffer.from("ok").toString("base64url")}`;
  const good = async (seq: number, kind: LogEntry["kind"] = "delta") => log.append(entry({ partition: p, actorId: "ok", seq, kind }));

  // Build malformed bodies from a well-formed entry and marker.
  await good(1, "snapshot");
  const template = new Uint8Array(20);
  template.set([0x42, 0x4c, 1, 1]);
  new DataView(template.buffer).setFloat64(4, 1);
  new DataView(template.buffer).setFloat64(12, 50);
  const withByte = (i: number, v: number) => {
    const b = template.slice();
    b[i] = v;
    return b;
  };
  const withFloat = (at: number, v: number) => {
    const b = template.slice();
    new DataView(b.buffer).setFloat64(at, v);
    return b;
  };
  const marker = (epoch: number, node: string, lengthDelta = 0) => {
    const n = Buffer.from(node);
    const b = new Uint8Array(14 + n.length);
    b.set([0x42, 0x4d, 1, 0]);
    new DataView(b.buffer).setFloat64(4, epoch);
    new DataView(b.buffer).setUint16(12, n.length + lengthDelta);
    b.set(n, 14);
    return b;
  };
  const onActorSubject: Uint8Array[] = [
    text("hello"), // short
    text("hello, this is not an entry at all"), // bad magic
    new Uint8Array(0),
    withByte(2, 2), // unknown version
    withByte(3, 0), // unknown kind
    withByte(3, 4),
    withFloat(4, -1), // bad epoch
    withFloat(4, 1.5),
    withFloat(4, Number.NaN),
    withFloat(12, 0), // bad seq
    withFloat(12, Number.POSITIVE_INFINITY),
    marker(1, "n1"), // a marker body on an entry subject
  ];
  const onMarkerSubject: Uint8Array[] = [
    text("garbage"),
    template, // an entry body on the marker subject
    marker(100, "n1", 1), // node length mismatch: must not fence
    marker(100, "n1", -1),
    marker(-5, "n1"),
    marker(100, ""),
    new Uint8Array([0x42, 0x4d, 1, 0, 0x40, 0x59, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xfe]), // node not UTF-8
  ];
  const badSubjects: string[] = [
    `${prefix}${p}.cart.!!!`, // not base64url
    `${prefix}${p}.cart.b2s=`, // padding
    `${prefix}${p}.cart.b2t`, // not the canonical encoding of "ok"
    `${prefix}${p}.cart.${Buffer.from([0xff, 0xfe]).toString("base64url")}`, // id not UTF-8
    `${prefix}${p}.cart.${Buffer.from("x".repeat(257)).toString("base64url")}`, // id too long
    `${prefix}${p}.1cart.b2s`, // type must start with a letter
    `${prefix}${p}.cart.b2s.extra`, // too many tokens
    `${prefix}${p}.cart`, // too few
    `${prefix}${p}._x`, // not the marker token
    `${prefix}${p}._m.b2s`,
  ];
  for (const body of onActorSubject) await js.publish(okSubject, body);
  await good(2);
  for (const body of onMarkerSubject) await js.publish(`${prefix}${p}._m`, body);
  for (const subject of badSubjects) await js.publish(subject, template);
  // Outside any partition a read asks for: a filtered read never meets them, the whole-stream pass skips them.
  for (const subject of [`${prefix}abc.cart.b2s`, `${prefix}99999.cart.b2s`, `${prefix}x`]) await js.publish(subject, template);
  await good(3);
  const garbage = onActorSubject.length + onMarkerSubject.length + badSubjects.length;

  let m = log.stats().malformed;
  const partition = await log.readPartition(p);
  t.deepEqual([...partition.keys()], ["cart/ok"]);
  t.deepEqual(view(partition.get("cart/ok") ?? []), [
    { kind: "snapshot", seq: 1, epoch: 1, payload: "p1" },
    { kind: "delta", seq: 2, epoch: 1, payload: "p2" },
    { kind: "delta", seq: 3, epoch: 1, payload: "p3" },
  ], "nothing fenced by the malformed markers");
  t.is(log.stats().malformed - m, garbage, "each malformed message counted once per read");
  t.is(log.stats().fenced, 0);

  m = log.stats().malformed;
  t.deepEqual((await log.readActor("cart", "ok", p)).map((e) => e.seq), [1, 2, 3]);
  t.is(log.stats().malformed - m, onActorSubject.length + onMarkerSubject.length, "readActor meets its own subject's and the markers' garbage");

  m = log.stats().malformed;
  const many = await log.readPartitions([p, 20, 21, 22, 23, 24, 25, 26]);
  t.deepEqual(many.get(p), partition, "the whole-stream pass gives the same answer");
  t.is(log.stats().malformed - m, garbage);
  t.is(many.get(20)?.size, 0);
});

test("6. invalid input is refused with InvalidLogEntryError and nothing is written", async (t) => {
  const { nc, log, stream } = await single(t);
  const ok = entry({ seq: 1 });
  const bad: Array<[string, Record<string, unknown>]> = [
    ["empty type", { actorType: "" }],
    ["type starting with a digit", { actorType: "1cart" }],
    ["type with a dot", { actorType: "a.b" }],
    ["type with a wildcard", { actorType: "a*" }],
    ["type with a >", { actorType: "a>" }],
    ["type with a space", { actorType: "a b" }],
    ["type of 65 characters", { actorType: "a".repeat(65) }],
    ["type not a string", { actorType: 5 }],
    ["empty id", { actorId: "" }],
    ["id of 257 characters", { actorId: "x".repeat(257) }],
    ["id with a lone surrogate", { actorId: "a\uD800b" }],
    ["id not a string", { actorId: 42 }],
    ["partition -1", { partition: -1 }],
    ["partition 65536", { partition: 65_536 }],
    ["partition 1.5", { partition: 1.5 }],
    ["partition NaN", { partition: Number.NaN }],
    ["partition as a string", { partition: "1" }],
    ["epoch -1", { epoch: -1 }],
    ["epoch 1.5", { epoch: 1.5 }],
    ["epoch 2^53", { epoch: 2 ** 53 }],
    ["seq 0", { seq: 0 }],
    ["seq 1.5", { seq: 1.5 }],
    ["kind", { kind: "upsert" }],
    ["payload a string", { payload: "abc" }],
    ["payload missing", { payload: undefined }],
  ];
  for (const [what, change] of bad) {
    await t.throwsAsync(() => log.append({ ...ok, ...change } as unknown as LogEntry), { instanceOf: InvalidLogEntryError }, what);
  }
  const badMarkers: Array<Record<string, unknown>> = [
    { partition: -1, epoch: 1, node: "n" },
    { partition: 1, epoch: -1, node: "n" },
    { partition: 1, epoch: 1, node: "" },
    { partition: 1, epoch: 1, node: "n".repeat(129) },
    { partition: 1, epoch: 1, node: 7 },
  ];
  for (const m of badMarkers) await t.throwsAsync(() => log.markTakeover(m as never), { instanceOf: InvalidLogEntryError }, JSON.stringify(m));
  await t.throwsAsync(() => log.readPartition(65_536), { instanceOf: InvalidLogEntryError });
  await t.throwsAsync(() => log.readPartitions([1, -1]), { instanceOf: InvalidLogEntryError });
  await t.throwsAsync(() => log.readActor("1cart", "a", 1), { instanceOf: InvalidLogEntryError });
  await t.throwsAsync(() => log.readActor("cart", "", 1), { instanceOf: InvalidLogEntryError });
  await t.throwsAsync(() => log.purgeActor("cart", "a", 1.5), { instanceOf: InvalidLogEntryError });
  t.is(await messagesIn(nc, stream), 0, "nothing written");
  t.is(log.stats().appends, 0);

  // A payload above what the largest entry may take in pieces (a quarter of the per-actor
  // retention: 16 pieces by default) is refused before publishing.
  const limit = nc.info?.max_payload ?? 1024 * 1024;
  const failures = log.stats().appendFailures;
  const tooBig = 16 * limit;
  t.is(log.messagesFor(tooBig), Number.POSITIVE_INFINITY);
  await t.throwsAsync(() => log.append({ ...ok, payload: new Uint8Array(tooBig) }), { instanceOf: PayloadTooLargeError });
  t.is(log.stats().appendFailures, failures + 1, "an oversized payload counts as a failed append");
  t.is(await messagesIn(nc, stream), 0);
  // One at the limit of a message is stored as one message; one byte more, in two pieces, read back whole.
  const msgIDLength = "cart:YQ:1:1".length;
  const fits = limit - 20 - msgIDLength - 32;
  await log.append({ ...ok, payload: new Uint8Array(fits).fill(7) });
  t.is(await messagesIn(nc, stream), 1);
  const [big] = await log.readActor("cart", "a", 1);
  t.is(big?.payload.length, fits);
  t.true(big?.payload.every((b) => b === 7));
  const larger = new Uint8Array(fits + 1).map((_, i) => i % 251);
  t.is(log.messagesFor(larger.length), 2);
  await log.append({ ...ok, seq: 2, kind: "snapshot", payload: larger });
  t.is(await messagesIn(nc, stream), 3, "two pieces");
  const [whole] = await log.readActor("cart", "a", 1);
  t.deepEqual([whole?.kind, whole?.seq, whole?.payload.length], ["snapshot", 2, larger.length]);
  t.true(Buffer.from(whole?.payload ?? []).equals(Buffer.from(larger)), "joined byte for byte");

  // The longest valid names round-trip.
  const longType = "a".repeat(64);
  const longId = "😀".repeat(128); // 256 UTF-16 code units
  await log.append({ ...ok, actorType: longType, actorId: longId, partition: 65_535 });
  t.deepEqual([...(await log.readPartition(65_535)).keys()], [`${longType}/${longId}`]);
});

test("7. purgeActor removes one actor's entries and nothing else", async (t) => {
  const { nc, log, stream } = await single(t);
  const p = 5;
  for (let s = 1; s <= 3; s++) {
    await log.append(entry({ partition: p, actorId: "gone", seq: s }));
    await log.append(entry({ partition: p, actorId: "kept", seq: s }));
    await log.append(entry({ partition: p, actorType: "other", actorId: "gone", seq: s }));
    await log.append(entry({ partition: p + 1, actorId: "gone", seq: s, epoch: 2 })); // epoch 2: the message id has no partition
  }
  await log.markTakeover({ partition: p, epoch: 1, node: "n1" });
  await log.purgeActor("cart", "gone", p);
  t.deepEqual(await log.readActor("cart", "gone", p), []);
  const partition = await log.readPartition(p);
  t.deepEqual([...partition.keys()].sort(), ["cart/kept", "other/gone"], "another type with the same id is another subject");
  t.deepEqual(partition.get("cart/kept")?.map((e) => e.seq), [1, 2, 3]);
  t.deepEqual((await log.readActor("cart", "gone", p + 1)).map((e) => e.seq), [1, 2, 3], "the same actor id in another partition is another subject");
  t.is(await messagesIn(nc, stream), 3 + 3 + 3 + 1, "kept's, other/gone's, the other partition's entries and the marker remain");
  await t.notThrowsAsync(() => log.purgeActor("cart", "never-written", p));
  await t.notThrowsAsync(() => log.purgeActor("cart", "gone", p), "purging twice is harmless");

  // New entries (new message ids) for the purged actor are a fresh history.
  await log.append(entry({ partition: p, actorId: "gone", seq: 4, kind: "snapshot" }));
  t.deepEqual((await log.readActor("cart", "gone", p)).map((e) => e.seq), [4]);

  // A consequence of the msgID contract (type, id, epoch, seq): within the stream's 2-minute
  // duplicate window, re-appending a purged entry's (epoch, seq) is acknowledged but NOT stored.
  // A writer that restarts an actor's seq at 1 in the same epoch must not rely on the log.
  const dup = await log.append(entry({ partition: p, actorId: "gone", seq: 1, kind: "snapshot", payload: text("reborn") }));
  t.is(dup.streamSeq, 1, "acknowledged as a duplicate of the purged first entry");
  t.deepEqual((await log.readActor("cart", "gone", p)).map((e) => e.seq), [4], "and not stored");
});

test("8. retention: maxEntriesPerActor bounds each actor's entries (max_msgs_per_subject)", async (t) => {
  const { nc, log, cluster, stream } = await single(t, { maxEntriesPerActor: 3 });
  const jsm = await jetstreamManager(nc);
  t.is((await jsm.streams.info(stream)).config.max_msgs_per_subject, 3);
  for (let s = 1; s <= 7; s++) await log.append(entry({ partition: 2, actorId: "busy", seq: s, kind: s === 1 ? "snapshot" : "delta" }));
  for (let s = 1; s <= 2; s++) await log.append(entry({ partition: 2, actorId: "quiet", seq: s }));
  t.deepEqual((await log.readActor("cart", "busy", 2)).map((e) => e.seq), [5, 6, 7], "the oldest entries (the snapshot too) were discarded");
  const partition = await log.readPartition(2);
  t.deepEqual(partition.get("cart/busy")?.map((e) => e.seq), [5, 6, 7]);
  t.deepEqual(partition.get("cart/quiet")?.map((e) => e.seq), [1, 2]);
  t.is(await messagesIn(nc, stream), 5);

  // Opening the same cluster's log with other limits updates the stream.
  const second = await open(t, nats?.urls ?? [], { cluster, maxEntriesPerActor: 2 });
  t.is((await jsm.streams.info(stream)).config.max_msgs_per_subject, 2);
  t.deepEqual((await second.log.readActor("cart", "busy", 2)).map((e) => e.seq), [6, 7]);
  t.is(await messagesIn(nc, stream), 4);
});

test("10. close(): pending appends and reads end with EventLogClosedError; the connection stays open", async (t) => {
  const { nc, log, stream, cluster } = await single(t, { readTimeoutMs: 20_000 });
  await log.append(entry({ seq: 1 }));
  // Without its stream, appends and reads retry (as through a leader election) until closed.
  await (await jetstreamManager(nc)).streams.delete(stream);
  const pendingAppend = log.append(entry({ seq: 2 }), { timeoutMs: 20_000 });
  const pendingRead = log.readPartition(1);
  const pendingActor = log.readActor("cart", "a", 1);
  const pendingPurge = log.purgeActor("cart", "a", 1);
  const outcome = (pr: Promise<unknown>) =>
    pr.then(
      () => "resolved",
      (e: unknown) => e,
    );
  const outcomes = Promise.all([pendingAppend, pendingRead, pendingActor, pendingPurge].map(outcome));
  await new Promise((r) => setTimeout(r, 500));
  const retries = log.stats().appendRetries;
  t.true(retries > 0, "the append was retrying");
  const failures = log.stats().appendFailures;
  const closedAt = Date.now();
  await log.close();
  const results = await outcomes;
  const tookMs = Date.now() - closedAt;
  for (const r of results) t.true(r instanceof EventLogClosedError, `ended with ${String(r)}`);
  t.true(tookMs < 2_500, `pending operations ended ${tookMs} ms after close()`);
  t.is(log.stats().appendFailures, failures + 1);

  // Everything after close() is refused.
  await t.throwsAsync(() => log.append(entry({ seq: 3 })), { instanceOf: EventLogClosedError });
  await t.throwsAsync(() => log.markTakeover({ partition: 1, epoch: 1, node: "n" }), { instanceOf: EventLogClosedError });
  await t.throwsAsync(() => log.readPartition(1), { instanceOf: EventLogClosedError });
  await t.throwsAsync(() => log.readPartitions([1, 2]), { instanceOf: EventLogClosedError });
  await t.throwsAsync(() => log.readActor("cart", "a", 1), { instanceOf: EventLogClosedError });
  await t.throwsAsync(() => log.purgeActor("cart", "a", 1), { instanceOf: EventLogClosedError });
  await t.notThrowsAsync(() => log.close(), "close() twice");

  // The connection is the caller's: still open, and a new log works on it.
  t.false(nc.isClosed());
  await nc.flush();
  const again = await openEventLog(nc, { cluster, log: silent });
  t.teardown(() => again.close());
  await again.append(entry({ seq: 5 }));
  t.deepEqual((await again.readActor("cart", "a", 1)).map((e) => e.seq), [5]);
});

test("10b. close() during a read that is streaming ends it with EventLogClosedError", async (t) => {
  const { log } = await single(t);
  // Enough entries that the read is still running when close() comes.
  const payload = new Uint8Array(2048);
  for (let s = 1; s <= 40; s++) await Promise.all(Array.from({ length: 50 }, (_, a) => log.append(entry({ partition: 0, actorId: `a${a}`, seq: s, payload }))));
  const read = log.readPartition(0).then(
    (m) => m,
    (e: unknown) => e,
  );
  await new Promise((r) => setImmediate(r));
  await log.close();
  const result = await read;
  // Either the read had already finished (then it is complete) or it ended with EventLogClosedError.
  if (result instanceof Map) t.is(result.size, 50);
  else t.true(result instanceof EventLogClosedError, String(result));
});

test("10c. close() then closing the connection: an append in flight ends with EventLogClosedError", async (t) => {
  const { nc, log, stream, cluster } = await single(t);
  await (await jetstreamManager(nc)).streams.delete(stream);
  // A subscriber that never answers: the publish waits for its acknowledgement (one attempt lasts 2 s).
  const hole = await connect({ servers: nats?.urls ?? [] });
  t.teardown(() => hole.close());
  hole.subscribe(`berth.${cluster}.log.>`, { callback: () => undefined });
  await hole.flush();
  const pending = log.append(entry({ seq: 1 }), { timeoutMs: 10_000 }).then(
    () => "resolved",
    (e: unknown) => e,
  );
  await new Promise((r) => setTimeout(r, 300));
  // What a node's shutdown does: close the log, then the connection.
  await log.close();
  await nc.close();
  const result = await pending;
  t.true(result instanceof EventLogClosedError, `ended with ${String(result)}`);
  await t.throwsAsync(() => log.readPartition(1), { instanceOf: EventLogClosedError });
});
