import test from "ava";
import { sync } from "berth";
import type { Activation, CommittedTurn } from "../../framework/src/actor/Activation.js";
import type { ActorRecord } from "../../framework/src/actor/record.js";
import { MalformedMessageError, ReplicationError } from "../../framework/src/errors.js";
import { decodeItems } from "../../framework/src/replication/itemWire.js";
import { Replicator } from "../../framework/src/replication/Replicator.js";
import { replicatorDeps } from "../helpers/replicator.js";

/**
 * A backup that cannot read an item (a bug in an encoder, never the network) refuses the whole
 * message it came in. Before, the owner sent that message again forever: every actor behind the
 * item on that channel stopped replicating, and every sync write to that backup failed. Now the
 * owner halves its messages until the item is refused alone, drops it, and sends its actor in
 * full; the rest of the channel flows.
 */

const POISON = "cannot-be-read";

function setup(recordState: (id: string) => unknown) {
  const messages: string[][] = [];
  const replicator = new Replicator(replicatorDeps({
    // The fake backup reads every item, and refuses a message with one it cannot take.
    sendItems: (_target, _head, items) => {
      messages.push([...items]);
      decodeItems(items.join(""));
      if (items.some((i) => i.includes(POISON))) return Promise.reject(new MalformedMessageError("replication item: value is not what this node can read"));
      return Promise.resolve({ needFull: [] });
    },
    recordOf: (_type, id): ActorRecord => ({ state: recordState(id), timers: [], timerSeq: 0, lastUsed: 1, seq: 1 }),
    syncTimeoutMs: 60_000,
  }));
  const type = { name: "cart", backup: sync({ backups: 1 }) };
  const turn = (id: string, value: string): Promise<void> => {
    const act = { type, id, partition: 3, timers: [], timerSeq: 0, lastUsed: 1 } as unknown as Activation;
    const t: CommittedTurn = { act, handler: "set", seq: 1, call: undefined, delta: [{ op: "set", path: ["v"], value }], timersChanged: false, destroyed: false };
    return replicator.committed(t) as Promise<void>;
  };
  return { replicator, messages, turn };
}

test("an item the backup refuses is found, dropped and its actor sent in full; the other items are held", async (t) => {
  const { replicator, messages, turn } = setup(() => ({ v: "clean" }));
  t.teardown(() => replicator.close());
  const ids = ["a1", "a2", "a3", "a4", "a5", "a6", "a7"];
  const writes = ids.map((id) => turn(id, id === "a5" ? POISON : "ok"));
  await t.notThrowsAsync(Promise.all(writes), "every write is held, the refused one's actor by its full record");
  t.is(replicator.stats.refusedItems, 1);
  t.is(replicator.stats.fullRecords, 1);
  t.deepEqual(messages[0]?.length, 7, "the first message carried all seven");
  t.true(messages.slice(1).every((m) => m.length < 7), `then smaller ones: ${messages.map((m) => m.length).join(", ")}`);
  // Once a message is accepted, the bound is back: the next turns share one message again.
  const before = messages.length;
  await Promise.all(["b1", "b2", "b3"].map((id) => turn(id, "ok")));
  t.is(messages.length, before + 1);
  t.is(messages.at(-1)?.length, 3);
});

test("when the full record is refused too, that actor's writes fail with ReplicationError and the others are held", async (t) => {
  const { replicator, turn } = setup((id) => ({ v: id === "a2" ? POISON : "clean" }));
  t.teardown(() => replicator.close());
  const good = ["a1", "a3", "a4"].map((id) => turn(id, "ok"));
  const bad = turn("a2", POISON);
  await t.throwsAsync(bad, { instanceOf: ReplicationError, message: /refused the replication of cart\/a2/ });
  await t.notThrowsAsync(Promise.all(good));
  t.is(replicator.stats.refusedItems, 2, "the delta, then the full record");
});
