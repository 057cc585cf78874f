import test from "ava";
import { ActorHandlerError, defineActor, MalformedMessageError } from "berth";
import { createTestNode } from "berth/testing";
import { checkRecord } from "../../framework/src/actor/record.js";

/**
 * An actor whose activation fails keeps its record: the call fails, a later one (once the
 * cause is gone) finds the state as it was. It is never silently replaced by a fresh actor.
 */

let failActivation = false;
const Notes = defineActor("notes", {
  state: () => ({ items: [] as string[] }),
  handlers: {
    add(ctx, item: string) {
      ctx.state.items.push(item);
      return ctx.state.items.length;
    },
  },
  queries: { items: (ctx) => ctx.state.items },
  onActivate() {
    if (failActivation) throw new Error("the database this actor warms up from is down");
  },
});

test("a failed activation of a passivated actor leaves its record; the next activation has the state", async (t) => {
  const node = await createTestNode({ actors: [Notes] });
  t.teardown(() => node.stop());
  const ref = node.ref(Notes, "n1");
  await ref.add("a");
  await ref.add("b");
  t.is(await node.passivateAll(), 1);
  failActivation = true;
  const error = await t.throwsAsync(ref.items(), { instanceOf: ActorHandlerError, message: /the database this actor warms up from is down/ });
  t.is(error?.handler, "onActivate");
  failActivation = false;
  t.deepEqual(await ref.items(), ["a", "b"], "the state survived the failed activation");
});

test("checkRecord refuses a record whose call outcomes are malformed (they would fail its activation)", (t) => {
  const good = { state: {}, timers: [], timerSeq: 0, lastUsed: 1, calls: [{ id: "c1", at: 5, ok: true, value: 1 }] };
  t.notThrows(() => checkRecord(good));
  for (const calls of [[null], [5], [{ at: 5, ok: true }], [{ id: "c1", at: "now", ok: true }], [{ id: "c1", at: 5, ok: "yes" }], [{ id: "", at: 5, ok: true }]]) {
    t.throws(() => checkRecord({ ...good, calls }), { instanceOf: MalformedMessageError, message: /malformed call outcome/ }, JSON.stringify(calls));
  }
  t.throws(() => checkRecord({ ...good, seq: 1.5 }), { instanceOf: MalformedMessageError, message: /seq/ });
});
