import test from "ava";
import { ArityError, callByName, ConfigError, defineActor, NotSerializableError, SelfCallError, UnknownActorTypeError, UnknownHandlerError } from "berth";
import { createTestNode } from "berth/testing";

const Counter = defineActor("counter", {
  state: () => ({ n: 0 }),
  handlers: {
    add(ctx, by: number) {
      ctx.state.n += by;
      return ctx.state.n;
    },
    addWithDefault(ctx, by: number, times = 1) {
      ctx.state.n += by * times;
      return ctx.state.n;
    },
    addAll(ctx, ...values: number[]) {
      for (const v of values) ctx.state.n += v;
      return ctx.state.n;
    },
    // A handler that refers to its own definition needs an explicit return type (TypeScript
    // cannot infer a type from itself).
    async callSelf(ctx): Promise<number> {
      return ctx.ref(Counter, ctx.id).add(1);
    },
  },
  queries: { get: (ctx) => ctx.state.n },
});
const NotHosted = defineActor("not-hosted", { state: () => ({}), handlers: { x: () => 1 } });

async function setup() {
  const node = await createTestNode({ actors: [Counter] });
  await node.ref(Counter, "c").add(5);
  return { node, c: node.ref(Counter, "c") };
}

test("an unknown actor type is refused, naming the known ones", async (t) => {
  const { node, c } = await setup();
  const byRef = await t.throwsAsync(node.ref(NotHosted, "x").x(), { instanceOf: UnknownActorTypeError });
  t.regex(byRef.message, /unknown actor type "not-hosted"; known types: counter/);
  await t.throwsAsync(node.dispatch("nope", "x", "add", [1], 0), { instanceOf: UnknownActorTypeError });
  t.is(await c.get(), 5);
  await node.stop();
});

test("an unknown handler is refused, listing the real ones", async (t) => {
  const { node, c } = await setup();
  const e = await t.throwsAsync(node.dispatch("counter", "c", "remove", [], 0), { instanceOf: UnknownHandlerError });
  t.regex(e.message, /actor "counter" has no handler "remove"; its handlers are: add, addWithDefault, addAll, callSelf, get/);
  t.is(await c.get(), 5);
  await node.stop();
});

test("callByName: a handler chosen at run time; an unknown name is UnknownHandlerError, not a TypeError", async (t) => {
  const { node, c } = await setup();
  t.is(await callByName(c, "add", 2), 7);
  t.is(await callByName(c, "get"), 7);
  const e = await t.throwsAsync(callByName(c, "remove", 1), { instanceOf: UnknownHandlerError });
  t.regex(e.message, /actor "counter" has no handler "remove"; its handlers are: add/);
  await t.throwsAsync(callByName(c, "add"), { instanceOf: ArityError });
  await t.throwsAsync(callByName({}, "add", 1), { instanceOf: TypeError, message: /needs an actor reference/ });
  t.is(await c.get(), 7);
  await node.stop();
});

test("wrong arity is refused before the handler runs; defaults and rest parameters are honoured", async (t) => {
  const { node, c } = await setup();
  const few = await t.throwsAsync(node.dispatch("counter", "c", "add", [], 0), { instanceOf: ArityError });
  t.is(few.message, "counter.add takes 1 argument(s) but received 0");
  const many = await t.throwsAsync(node.dispatch("counter", "c", "add", [1, 2], 0), { instanceOf: ArityError });
  t.is(many.received, 2);
  await t.throwsAsync(node.dispatch("counter", "c", "addWithDefault", [1, 2, 3], 0), { instanceOf: ArityError, message: /takes 1 to 2 argument/ });
  t.is(await node.dispatch("counter", "c", "addWithDefault", [1], 0), 6);
  t.is(await node.dispatch("counter", "c", "addWithDefault", [1, 2], 0), 8);
  t.is(await c.addAll(1, 1, 1, 1), 12);
  t.is(await c.get(), 12);
  await node.stop();
});

test("non-serializable arguments are refused, naming the argument", async (t) => {
  const { node, c } = await setup();
  const add = (arg: unknown): Promise<number> => (c.add as (arg: unknown) => Promise<number>).call(c, arg);
  const fn = await t.throwsAsync(add(() => 1), { instanceOf: NotSerializableError });
  t.is(fn.path, "counter.add() args[0]");
  class Thing {
    x = 1;
  }
  const obj = await t.throwsAsync(add({ nested: [new Thing()] }), { instanceOf: NotSerializableError });
  t.regex(obj.message, /counter\.add\(\) args\[0\]\.nested\[0\] is an instance of Thing/);
  t.is(await c.get(), 5, "nothing reached the actor");
  await node.stop();
});

test("an actor calling itself during its turn gets a clear error instead of a deadlock", async (t) => {
  const { node, c } = await setup();
  const e = await t.throwsAsync(c.callSelf(), { instanceOf: SelfCallError });
  t.regex(e.message, /called itself during its own turn/);
  t.is(await c.get(), 5);
  await node.stop();
});

test("a reference's methods must be called on the reference", async (t) => {
  const { node, c } = await setup();
  const { add } = c;
  await t.throwsAsync(add(1), { instanceOf: TypeError, message: /call counter\.add\(\) on its reference/ });
  await node.stop();
});

test("invalid ids and definitions are refused with the fix in the message", async (t) => {
  const { node } = await setup();
  t.throws(() => node.ref(Counter, ""), { instanceOf: ConfigError, message: /non-empty string/ });
  t.throws(() => node.ref(Counter, "x".repeat(300)), { instanceOf: ConfigError });
  t.throws(() => defineActor("bad name!", { state: () => ({}) }), { instanceOf: ConfigError, message: /must start with a letter/ });
  t.throws(() => defineActor("a", { state: () => ({}), handlers: { then: () => 1 } }), { instanceOf: ConfigError, message: /reserved/ });
  t.throws(() => defineActor("a", { state: () => ({}), handlers: { x: () => 1 }, queries: { x: () => 1 } }), {
    instanceOf: ConfigError,
    message: /both as a handler and as a query/,
  });
  t.throws(() => defineActor("a", { state: () => ({}), idleTimeout: "soon" as "1m" }), { instanceOf: ConfigError, message: /like "30s"/ });
  await node.stop();
});

test("two definitions with one name cannot share a node", async (t) => {
  const other = defineActor("counter", { state: () => ({}) });
  await t.throwsAsync(createTestNode({ actors: [Counter, other] }), { instanceOf: ConfigError, message: /two different actor definitions are named "counter"/ });
});
