import test from "ava";
import { setTimeout as sleep } from "node:timers/promises";
import { ActorHandlerError, defineActor, NotSerializableError, QueryMutationError, TurnEndedError, type ActorContext } from "berth";
import { createTestNode } from "berth/testing";

class OutOfStock extends Error {
  override name = "OutOfStock";
}

const Cart = defineActor("cart", {
  state: () => ({ items: new Map<string, number>(), history: [] as string[], meta: { touched: 0 } as Record<string, unknown> }),
  handlers: {
    add(ctx, sku: string, qty: number) {
      ctx.state.items.set(sku, (ctx.state.items.get(sku) ?? 0) + qty);
      ctx.state.history.push(`add ${sku}`);
      return ctx.state.items.size;
    },
    addThenFail(ctx, sku: string) {
      ctx.state.items.set(sku, 99);
      ctx.state.items.delete("keep");
      ctx.state.history.push("doomed");
      (ctx.state.meta as { touched: number }).touched = 42;
      ctx.schedule.after("1m", "add", "timer", 1);
      throw new OutOfStock(`no ${sku} left`);
    },
    async failAfterAwait(ctx) {
      ctx.state.history.push("before await");
      await sleep(1);
      ctx.state.history.push("after await");
      throw new Error("late failure");
    },
    storeFunction(ctx) {
      ctx.state.meta.callback = () => "not data";
    },
    returnFunction(ctx) {
      ctx.state.history.push("changed");
      return () => 1;
    },
    replaceState(ctx) {
      ctx.state = { items: new Map([["fresh", 1]]), history: [], meta: { touched: 0 } };
    },
    leak(ctx) {
      leaked = ctx;
    },
    logout(ctx) {
      ctx.destroy();
    },
  },
  queries: {
    snapshot: (ctx) => ({ items: [...ctx.state.items], history: [...ctx.state.history], meta: { ...ctx.state.meta } }),
    timers: (ctx) => ctx.state.items.size,
    sneaky(ctx) {
      (ctx.state.history as string[]).push("written by a query");
      return 1;
    },
  },
});

let leaked: ActorContext<unknown, unknown> | undefined;

async function setup() {
  const node = await createTestNode({ actors: [Cart] });
  const cart = node.ref(Cart, "s1");
  await cart.add("keep", 1);
  return { node, cart, before: await cart.snapshot() };
}

test("a handler that throws leaves state and timers exactly as before and the caller gets its message", async (t) => {
  const { node, cart, before } = await setup();
  const error = await t.throwsAsync(cart.addThenFail("x"), { instanceOf: ActorHandlerError });
  t.is(error.message, "no x left");
  t.is(error.errorName, "OutOfStock");
  t.is(error.handler, "addThenFail");
  t.is(error.actorType, "cart");
  t.is(error.actorId, "s1");
  t.deepEqual(await cart.snapshot(), before);
  await node.clock.advance("2m");
  t.deepEqual(await cart.snapshot(), before, "the timer scheduled in the failed turn never fires");
  t.is(await cart.add("next", 1), 2, "the actor keeps serving");
  await node.stop();
});

test("a throw after an await rolls back changes made before the await", async (t) => {
  const { node, cart, before } = await setup();
  await t.throwsAsync(cart.failAfterAwait(), { instanceOf: ActorHandlerError, message: "late failure" });
  t.deepEqual(await cart.snapshot(), before);
  await node.stop();
});

test("a turn that leaves unserializable state fails, naming the field, and rolls back", async (t) => {
  const { node, cart, before } = await setup();
  const error = await t.throwsAsync(cart.storeFunction(), { instanceOf: NotSerializableError });
  t.is(error.path, "state.meta.callback");
  t.regex(error.message, /state\.meta\.callback is a function/);
  t.deepEqual(await cart.snapshot(), before);
  await node.stop();
});

test("a turn whose result is unserializable fails and rolls back", async (t) => {
  const { node, cart, before } = await setup();
  const error = await t.throwsAsync(cart.returnFunction(), { instanceOf: NotSerializableError });
  t.regex(error.message, /cart\.returnFunction\(\) result is a function/);
  t.deepEqual(await cart.snapshot(), before);
  await node.stop();
});

test("a handler may replace the whole state", async (t) => {
  const { node, cart } = await setup();
  await cart.replaceState();
  t.deepEqual((await cart.snapshot()).items, [["fresh", 1]]);
  await node.stop();
});

test("a context used after its turn ended throws instead of changing state", async (t) => {
  const { node, cart, before } = await setup();
  await cart.leak();
  const ctx = leaked as ActorContext<{ history: string[] }, unknown>;
  t.throws(() => ctx.state.history.push("outside"), { instanceOf: TurnEndedError });
  t.throws(() => ctx.schedule.after(1000, "add", "x", 1), { instanceOf: TurnEndedError });
  t.deepEqual(await cart.snapshot(), before);
  await node.stop();
});

test("a query that changes state is refused and the change undone", async (t) => {
  const { node, cart, before } = await setup();
  const error = await t.throwsAsync(cart.sneaky(), { instanceOf: QueryMutationError });
  t.regex(error.message, /query cart\.sneaky changed state\.history/);
  t.deepEqual(await cart.snapshot(), before);
  await node.stop();
});

test("ctx.destroy() deletes the actor when the turn commits", async (t) => {
  const { node, cart } = await setup();
  await cart.logout();
  t.deepEqual((await cart.snapshot()).items, [], "the next call starts a fresh actor");
  t.is(node.stats().destroyed, 1);
  await node.stop();
});

test("results are copies: a caller cannot reach into the actor's state", async (t) => {
  const Box = defineActor("box", {
    state: () => ({ list: [1, 2] }),
    queries: { list: (ctx) => ctx.state.list },
    handlers: {
      keep(ctx, value: { n: number }) {
        ctx.state.list.push(value.n);
        return value;
      },
    },
  });
  const node = await createTestNode({ actors: [Box] });
  const box = node.ref(Box, "b");
  const list = (await box.list()) as number[];
  list.push(99);
  const arg = { n: 3 };
  const returned = await box.keep(arg);
  arg.n = 100;
  returned.n = 200;
  t.deepEqual(await box.list(), [1, 2, 3]);
  await node.stop();
});

test("a thrown non-Error reaches the caller with its text: a string as it is, an object as JSON", async (t) => {
  const Thrower = defineActor("thrower", {
    state: () => ({ n: 0 }),
    handlers: {
      str(ctx) {
        ctx.state.n++;
        throw "out of stock";
      },
      obj(ctx) {
        ctx.state.n++;
        throw { code: 42, why: "no" };
      },
    },
    queries: { n: (ctx) => ctx.state.n },
  });
  const node = await createTestNode({ actors: [Thrower] });
  const s = await t.throwsAsync(node.ref(Thrower, "x").str(), { instanceOf: ActorHandlerError });
  t.is(s?.errorName, "thrown string");
  t.regex(s?.message ?? "", /out of stock/);
  const o = await t.throwsAsync(node.ref(Thrower, "x").obj(), { instanceOf: ActorHandlerError });
  t.is(o?.errorName, "thrown object");
  t.regex(o?.message ?? "", /\{"code":42,"why":"no"\}/);
  t.is(await node.ref(Thrower, "x").n(), 0, "both turns rolled back");
  await node.stop();
});
