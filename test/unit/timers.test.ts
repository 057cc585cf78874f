import test from "ava";
import { ActorHandlerError, ArityError, defineActor, UnknownHandlerError } from "berth";
import { createTestNode } from "berth/testing";

const Reminder = defineActor("reminder", {
  state: () => ({ fired: [] as Array<{ what: string; at: number }>, failures: 0 }),
  idleTimeout: "1m",
  handlers: {
    remind(ctx, what: string, delayMs: number) {
      return ctx.schedule.after(delayMs, "fire", what);
    },
    remindAt(ctx, what: string, when: Date) {
      return ctx.schedule.at(when, "fire", what);
    },
    cancel(ctx, id: string) {
      return ctx.schedule.cancel(id);
    },
    fire(ctx, what: string) {
      ctx.state.fired.push({ what, at: ctx.now().getTime() });
    },
    broken(ctx) {
      ctx.state.failures++;
      ctx.state.fired.push({ what: "should roll back", at: 0 });
      throw new Error("timer handler failed");
    },
    scheduleFailing(ctx, delayMs: number) {
      return ctx.schedule.after(delayMs, "broken");
    },
    scheduleUnknown(ctx) {
      return ctx.schedule.after(1000, "nope");
    },
    scheduleWrongArity(ctx) {
      return ctx.schedule.after(1000, "fire");
    },
  },
  queries: {
    fired: (ctx) => ctx.state.fired.map((f) => f.what),
    firedAt: (ctx) => ctx.state.fired,
    pending: (ctx) => ctx.state.fired.length,
  },
});

test("a timer fires once, at its deadline and not before", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const r = node.ref(Reminder, "r1");
  const start = node.clock.now();
  await r.remind("tea", 5_000);
  await node.clock.advance(4_999);
  t.deepEqual(await r.fired(), []);
  await node.clock.advance(1);
  t.deepEqual(await r.firedAt(), [{ what: "tea", at: start + 5_000 }]);
  await node.clock.advance("1h");
  t.deepEqual(await r.fired(), ["tea"], "fired exactly once");
  t.is(node.stats().timersFired, 1);
  await node.stop();
});

test("many timers per actor fire in deadline order; cancelled ones never fire", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const r = node.ref(Reminder, "r1");
  await r.remind("c", 3_000);
  const b = await r.remind("b", 2_000);
  await r.remind("a", 1_000);
  await r.remindAt("d", new Date(node.clock.now() + 4_000));
  t.true(await r.cancel(b));
  t.false(await r.cancel(b), "cancelling twice reports it was not pending");
  await node.clock.advance(10_000);
  t.deepEqual(await r.fired(), ["a", "c", "d"]);
  await node.stop();
});

test("timers survive passivation: the actor is reactivated when one is due", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const r = node.ref(Reminder, "r1");
  await r.remind("after a nap", 600_000);
  await node.clock.advance("3m"); // idle timeout is 1m: the actor is passivated
  t.is(node.stats().active, 0);
  t.is(node.stats().passive, 1);
  await node.clock.advance("8m");
  t.is(node.stats().timersFired, 1);
  t.deepEqual(await r.fired(), ["after a nap"]);
  await node.stop();
});

test("a timer whose handler throws fires once: its changes roll back, the timer is consumed", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const r = node.ref(Reminder, "r1");
  await r.scheduleFailing(1_000);
  await node.clock.advance(1_000);
  t.is(node.stats().timerErrors, 1);
  t.deepEqual(await r.fired(), [], "the failed turn's changes were rolled back");
  await node.passivateAll();
  await node.clock.advance("1h");
  t.is(node.stats().timerErrors, 1, "not fired again after reactivation");
  await node.stop();
});

test("scheduling an unknown handler or with the wrong arguments fails the turn", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const r = node.ref(Reminder, "r1");
  const unknown = await t.throwsAsync(r.scheduleUnknown(), { instanceOf: UnknownHandlerError });
  t.regex(unknown.message, /actor "reminder" has no handler "nope"/);
  await t.throwsAsync(r.scheduleWrongArity(), { instanceOf: ArityError });
  await node.clock.advance("1h");
  t.deepEqual(await r.fired(), []);
  t.is(node.stats().timersFired, 0);
  await node.stop();
});

test("timers of many actors fire independently", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const refs = Array.from({ length: 50 }, (_, i) => node.ref(Reminder, `r${i}`));
  await Promise.all(refs.map((r, i) => r.remind(`m${i}`, 1_000 * (i + 1))));
  await node.clock.advance(25_500);
  const fired = await Promise.all(refs.map((r) => r.fired()));
  t.deepEqual(fired.map((f) => f.length), refs.map((_, i) => (i < 25 ? 1 : 0)));
  await node.stop();
});

test("an error in a timer's handler is not an error of the call that scheduled it", async (t) => {
  const node = await createTestNode({ actors: [Reminder] });
  const r = node.ref(Reminder, "r2");
  await t.notThrowsAsync(r.scheduleFailing(10));
  await node.clock.advance(10);
  await t.throwsAsync(r.broken(), { instanceOf: ActorHandlerError }, "a direct call still reports it");
  await node.stop();
});
