import test from "ava";
import { defineActor } from "berth";
import { createTestNode } from "berth/testing";

/** Holds `hold()` turns until the test opens it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
let gate = deferred();

function lifecycleActor(name: string, options: { idleTimeout?: "1m"; expireAfter?: "5m" } = {}) {
  const events: string[] = [];
  const def = defineActor(name, {
    state: (id) => ({ id, count: 0, activations: 0 }),
    ...options,
    onActivate(ctx) {
      ctx.state.activations++;
      events.push(`activate ${ctx.id}`);
    },
    onDeactivate(ctx) {
      events.push(`deactivate ${ctx.id} count=${ctx.state.count}`);
    },
    handlers: {
      inc(ctx) {
        return ++ctx.state.count;
      },
      async hold() {
        await gate.promise;
      },
    },
    queries: {
      get: (ctx) => ({ count: ctx.state.count, activations: ctx.state.activations }),
    },
  });
  return { def, events };
}

test("activation on first call runs onActivate once", async (t) => {
  const { def, events } = lifecycleActor("a1");
  const node = await createTestNode({ actors: [def] });
  const r = node.ref(def, "x");
  t.is(node.stats().active, 0, "nothing is activated before a call");
  await Promise.all([r.inc(), r.inc(), r.inc()]);
  t.deepEqual(events, ["activate x"]);
  t.deepEqual(await r.get(), { count: 3, activations: 1 });
  await node.stop();
});

test("an idle actor is passivated after its idle timeout, keeps its state, and reactivates on the next call", async (t) => {
  const { def, events } = lifecycleActor("a2", { idleTimeout: "1m" });
  const node = await createTestNode({ actors: [def] });
  const r = node.ref(def, "x");
  await r.inc();
  await node.clock.advance("50s");
  t.is(node.stats().active, 1, "not passivated before the timeout");
  await node.clock.advance("2m");
  t.is(node.stats().active, 0);
  t.is(node.stats().passive, 1);
  t.deepEqual(events, ["activate x", "deactivate x count=1"]);
  t.is(await r.inc(), 2, "state survived passivation");
  t.deepEqual(await r.get(), { count: 2, activations: 2 });
  t.is(events.at(-1), "activate x");
  await node.stop();
});

test("a busy actor is not passivated", async (t) => {
  const { def } = lifecycleActor("a3", { idleTimeout: "1m" });
  const node = await createTestNode({ actors: [def], callTimeout: "1h" });
  const r = node.ref(def, "x");
  gate = deferred();
  const holding = r.hold();
  await node.clock.advance("5m");
  t.is(node.stats().active, 1);
  gate.resolve();
  await holding;
  await node.clock.advance("5m");
  t.is(node.stats().active, 0, "passivated once the turn ended");
  await node.stop();
});

test("beyond the cap, the least recently used idle actors are passivated", async (t) => {
  const { def } = lifecycleActor("a4");
  const node = await createTestNode({ actors: [def], maxActiveActors: 3 });
  for (const id of ["a", "b", "c"]) await node.ref(def, id).inc();
  await node.ref(def, "a").inc(); // a is now the most recent; b the least
  await node.ref(def, "d").inc();
  await node.clock.advance(10);
  t.is(node.stats().active, 3);
  t.is(node.stats().passive, 1);
  await node.ref(def, "e").inc();
  await node.clock.advance(10);
  t.is(node.stats().active, 3);
  // b and c went (least recently used); a, d, e stayed. Passivated state comes back intact.
  t.deepEqual(await node.ref(def, "a").get(), { count: 2, activations: 1 });
  t.deepEqual(await node.ref(def, "b").get(), { count: 1, activations: 2 });
  t.deepEqual(await node.ref(def, "c").get(), { count: 1, activations: 2 });
  await node.stop();
});

test("expireAfter deletes an idle actor: the next call starts fresh", async (t) => {
  const { def } = lifecycleActor("a5", { idleTimeout: "1m", expireAfter: "5m" });
  const node = await createTestNode({ actors: [def] });
  const r = node.ref(def, "x");
  await r.inc();
  await r.inc();
  await node.clock.advance("4m");
  t.is(node.stats().passive, 1, "passivated but not yet expired");
  t.deepEqual(await r.get(), { count: 2, activations: 2 });
  await node.clock.advance("7m");
  t.is(node.stats().passive, 0);
  t.is(node.stats().destroyed, 1);
  t.deepEqual(await r.get(), { count: 0, activations: 1 }, "expired: a new session");
  await node.stop();
});

test("20,000 actors: passivating all of them keeps every state", async (t) => {
  const { def } = lifecycleActor("a6");
  const node = await createTestNode({ actors: [def] });
  const n = 20_000;
  await Promise.all(Array.from({ length: n }, (_, i) => node.ref(def, `k${i}`).inc()));
  t.is(node.stats().active, n);
  t.is(await node.passivateAll(), n);
  t.is(node.stats().passive, n);
  const counts = await Promise.all(Array.from({ length: n }, (_, i) => node.ref(def, `k${i}`).inc()));
  t.true(counts.every((c) => c === 2));
  await node.stop();
});
