import test from "ava";
import type { ActorHost } from "../../framework/src/actor/ActorHost.js";
import type { Member, View } from "../../framework/src/membership/types.js";
import { PartitionManager } from "../../framework/src/migration/PartitionManager.js";
import { createLogger } from "../../framework/src/node/logger.js";
import { computeTable, rebalance, type PartitionTable } from "../../framework/src/placement/index.js";
import type { BackupStore } from "../../framework/src/replication/BackupStore.js";
import type { Replicator } from "../../framework/src/replication/Replicator.js";
import type { ControlMessage } from "../../framework/src/transport/control.js";

// The move rate limit (`moveConcurrency`) bounds pulls from a live previous owner; recoveries of
// a dead owner's partitions start together (a failover's hundreds of partitions used to recover
// in waves of 64). The manager runs here against stand-ins for its node: what is observed is
// which control requests it has outstanding at once.

const PARTITIONS = 16;
const LIMIT = 2;

interface Request {
  readonly target: string;
  readonly msg: ControlMessage;
  answer(reply: unknown): void;
}

/** The node around one PartitionManager: every control request waits until the test answers it. */
function managerFor(selfId: string) {
  const open: Request[] = [];
  let maxProbes = 0;
  let maxPulls = 0;
  const count = (probe: boolean): number => open.filter((r) => r.msg.op === "pull" && (r.msg.probe === true) === probe).length;
  let view: View = { epoch: 0, members: [], table: null };
  let table: PartitionTable | null = null;
  const host: Pick<ActorHost, "dropPartition" | "importActors" | "importSerialized" | "exportPartition" | "exportSerialized" | "partitionBusy"> = {
    dropPartition: () => 0,
    importActors: () => [],
    importSerialized: () => [],
    exportPartition: () => [],
    exportSerialized: () => [],
    partitionBusy: () => false,
  };
  const replicator: Pick<Replicator, "dropPartition" | "pending" | "syncPartition" | "viewChanged"> = {
    dropPartition: () => undefined,
    pending: () => false,
    syncPartition: () => undefined,
    viewChanged: () => undefined,
  };
  const backups: Pick<BackupStore, "entries" | "drop"> = { entries: () => [], drop: () => undefined };
  const manager = new PartitionManager({
    selfId,
    partitions: PARTITIONS,
    log: createLogger({ level: "silent" }),
    // Stand-ins for the parts the manager calls; the casts are the test's seam, not the API's.
    host: host as ActorHost,
    replicator: replicator as Replicator,
    backups: backups as BackupStore,
    eventLog: () => null,
    view: () => view,
    table: () => table,
    reconcile: () => Promise.resolve(),
    moveConcurrency: LIMIT,
    sendControl: (target, msg) => {
      if (msg.op !== "pull") return Promise.resolve({ ok: true }); // "done" after a pull
      return new Promise((resolve) => {
        open.push({ target, msg, answer: resolve });
        maxProbes = Math.max(maxProbes, count(true));
        maxPulls = Math.max(maxPulls, count(false));
      });
    },
  });
  return {
    manager,
    open,
    max: () => ({ probes: maxProbes, pulls: maxPulls }),
    apply(next: View, nextTable: PartitionTable) {
      view = next;
      table = nextTable;
      manager.onView(next, nextTable);
    },
    /** Answers every open request with `reply(request)`, until none is left (answers open new ones). */
    async answerAll(reply: (r: Request) => unknown): Promise<void> {
      // Installs run in slices of the event loop (WorkSlicer): quiet for a few turns means done.
      for (let rounds = 0, quiet = 0; rounds < 1000; rounds++) {
        await new Promise((r) => setImmediate(r));
        const batch = open.splice(0);
        if (batch.length === 0) {
          if (++quiet === 5) return;
          continue;
        }
        quiet = 0;
        for (const r of batch) r.answer(reply(r));
      }
      throw new Error("requests kept coming");
    },
  };
}

const member = (id: string, role: "worker" | "gateway" = "worker"): Member => ({ id, roles: [role], capacity: 1, incarnation: `${id}-1` });
const owned = (t: PartitionTable, id: string): number[] => Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => t.ownerOf(p) === id);
const settle = () => new Promise((r) => setImmediate(r));

test("recoveries of a dead owner's partitions start together, beyond the move rate limit", async (t) => {
  const node = managerFor("a");
  // "a" is the only worker and nobody owned anything before: every partition is recovered,
  // each recovery probing the other member (a gateway) for a live holder.
  const table = computeTable({ epoch: 1, members: [{ id: "a" }] }, { partitions: PARTITIONS });
  node.apply({ epoch: 1, members: [member("a"), member("g", "gateway")], table: null }, table);
  await settle();
  t.is(node.open.length, PARTITIONS, "one probe per partition is outstanding");
  t.is(node.max().probes, PARTITIONS, `all ${PARTITIONS} recoveries probe at once, not ${LIMIT} at a time`);
  await node.answerAll(() => ({ status: "none", backups: [] }));
  await settle();
  t.deepEqual(
    Array.from({ length: PARTITIONS }, (_, p) => node.manager.state(p)),
    Array.from({ length: PARTITIONS }, () => "serving"),
  );
});

test("pulls from a live previous owner stay within the move rate limit", async (t) => {
  const node = managerFor("b");
  const before = computeTable({ epoch: 1, members: [{ id: "a" }] }, { partitions: PARTITIONS });
  node.apply({ epoch: 1, members: [member("a"), member("b")], table: null }, before);
  await settle();
  t.is(node.open.length, 0, "b owns nothing yet");
  const after = rebalance(before, { epoch: 2, members: [{ id: "a" }, { id: "b" }] }, { partitions: PARTITIONS });
  const mine = owned(after, "b");
  t.true(mine.length > LIMIT, `b takes ${mine.length} partitions from a`);
  node.apply({ epoch: 2, members: [member("a"), member("b")], table: null }, after);
  await node.answerAll((r) => {
    t.is(r.target, "a");
    return { status: "chunk", actors: [], next: null, total: 1 };
  });
  t.is(node.max().pulls, LIMIT, `at most ${LIMIT} pulls ran at once`);
  await settle();
  for (const p of mine) t.is(node.manager.state(p), "serving", `partition ${p}`);
});

test("a recovery that finds a live holder pulls from it within the move rate limit", async (t) => {
  const node = managerFor("b");
  // b recovers everything (no previous table); "h", a member holding the partitions (say, a
  // node that was handing them over when the view changed), answers every probe.
  const table = computeTable({ epoch: 1, members: [{ id: "b" }] }, { partitions: PARTITIONS });
  node.apply({ epoch: 1, members: [member("b"), member("h", "gateway")], table: null }, table);
  // The holder answers a probe as it answers a pull: with its (here empty) chunk.
  await node.answerAll(() => ({ status: "chunk", actors: [], next: null, total: 1 }));
  t.is(node.max().probes, PARTITIONS, "the probes go out together");
  t.is(node.max().pulls, LIMIT, `the pulls from the holder, at most ${LIMIT} at once`);
  await settle();
  t.deepEqual(
    Array.from({ length: PARTITIONS }, (_, p) => node.manager.state(p)),
    Array.from({ length: PARTITIONS }, () => "serving"),
  );
});
