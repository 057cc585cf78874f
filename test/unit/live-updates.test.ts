import test from "ava";
import { ConfigError, defineActor, PayloadTooLargeError, updates, type ActorUpdate } from "berth";
import { createTestNode } from "berth/testing";

/**
 * Live updates on one node (`createTestNode`): what a turn publishes reaches the actor's
 * watchers after it commits, a turn that throws publishes nothing, and the bounds and errors.
 */

type RoomUpdate = { kind: "posted"; from: string; text: string; at: Date } | { kind: "cleared" };

const Room = defineActor("room", {
  state: () => ({ posts: [] as string[] }),
  updates: updates<RoomUpdate>(),
  handlers: {
    post(ctx, from: string, text: string) {
      ctx.state.posts.push(text);
      ctx.publish({ kind: "posted", from, text, at: ctx.now() });
      return ctx.state.posts.length;
    },
    postThenFail(ctx, text: string) {
      ctx.state.posts.push(text);
      ctx.publish({ kind: "posted", from: "x", text, at: ctx.now() });
      throw new Error("changed my mind");
    },
    burst(ctx, n: number) {
      for (let i = 0; i < n; i++) ctx.publish({ kind: "cleared" });
      ctx.state.posts = [];
    },
    huge(ctx, size: number) {
      ctx.state.posts.push("huge");
      ctx.publish({ kind: "posted", from: "x", text: "y".repeat(size), at: ctx.now() });
    },
    leak(ctx) {
      // A publish after the turn ended: from a stray callback.
      setTimeout(() => {
        try {
          ctx.publish({ kind: "cleared" });
        } catch (error) {
          leaked.push(error);
        }
      }, 0);
    },
  },
  queries: {
    posts: (ctx) => ctx.state.posts,
  },
});
const leaked: unknown[] = [];

const Quiet = defineActor("quiet", {
  state: () => ({ n: 0 }),
  handlers: {
    speak(ctx) {
      ctx.state.n++;
      (ctx as unknown as { publish(u: unknown): void }).publish({ hello: 1 });
    },
  },
});

const tick = () => new Promise((r) => setTimeout(r, 5));

test("a committed turn's updates reach every watcher of that actor, in order; watchers of other actors see nothing", async (t) => {
  const node = await createTestNode({ actors: [Room] });
  const a: Array<ActorUpdate<RoomUpdate>> = [];
  const b: Array<ActorUpdate<RoomUpdate>> = [];
  const other: unknown[] = [];
  node.watch(Room, "lobby", (u) => a.push(u));
  node.watch(Room, "lobby", (u) => b.push(u));
  node.watch(Room, "elsewhere", (u) => other.push(u));
  const room = node.ref(Room, "lobby");
  t.is(await room.post("ann", "hi"), 1);
  await room.post("bob", "hello");
  await tick();
  t.deepEqual(a.map((u) => (u.data.kind === "posted" ? u.data.text : "")), ["hi", "hello"]);
  t.deepEqual(a.map((u) => u.missed), [false, false]);
  t.true(a[0]?.data.kind === "posted" && a[0].data.at instanceof Date, "values keep their types (a Date stays a Date)");
  t.is(b.length, 2);
  t.not(a[0]?.data, b[0]?.data, "each watcher gets its own copy");
  t.deepEqual(other, []);
  await node.stop();
});

test("a turn that throws publishes nothing and leaves the state unchanged", async (t) => {
  const node = await createTestNode({ actors: [Room] });
  const got: unknown[] = [];
  node.watch(Room, "r", (u) => got.push(u));
  const room = node.ref(Room, "r");
  await t.throwsAsync(room.postThenFail("oops"), { message: /changed my mind/ });
  await room.post("ann", "kept");
  await tick();
  t.is(got.length, 1);
  t.deepEqual(await room.posts(), ["kept"]);
  await node.stop();
});

test("stop() ends a watch; a watcher that throws keeps the others and itself watching", async (t) => {
  const node = await createTestNode({ actors: [Room] });
  const kept: string[] = [];
  let thrown = 0;
  const stopped: unknown[] = [];
  node.watch(Room, "r", () => {
    thrown++;
    throw new Error("watcher bug");
  });
  node.watch(Room, "r", (u) => kept.push(u.data.kind));
  const w = node.watch(Room, "r", (u) => stopped.push(u));
  await node.ref(Room, "r").post("a", "1");
  await tick();
  w.stop();
  w.stop();
  await node.ref(Room, "r").post("a", "2");
  await tick();
  t.deepEqual(kept, ["posted", "posted"]);
  t.is(thrown, 2);
  t.is(stopped.length, 1);
  await node.stop();
});

test("bounds: at most 100 updates and 256 KiB a turn; beyond, the turn fails with a clear error and changes nothing", async (t) => {
  const node = await createTestNode({ actors: [Room] });
  const got: unknown[] = [];
  node.watch(Room, "r", (u) => got.push(u));
  const room = node.ref(Room, "r");
  await room.post("a", "before");
  await room.burst(100);
  await tick();
  t.is(got.length, 101);
  await t.throwsAsync(room.burst(101), { message: /at most 100 updates/ });
  await t.throwsAsync(room.huge(300_000), { instanceOf: PayloadTooLargeError });
  await tick();
  t.is(got.length, 101, "nothing of the failed turns was published");
  t.deepEqual(await room.posts(), [], "the failed turns left the state as burst(100) left it");
  await node.stop();
});

test("clear errors: publishing without declaring updates, watching such a type, a publish after the turn, a bad listener", async (t) => {
  const node = await createTestNode({ actors: [Room, Quiet] });
  await t.throwsAsync(node.ref(Quiet, "q").speak(), { message: /declares no live updates: add updates: updates<YourUpdate>\(\)/ });
  t.throws(() => node.watch(Quiet, "q", () => undefined), { instanceOf: ConfigError, message: /declares no live updates/ });
  t.throws(() => node.watch(Room, "", () => undefined), { instanceOf: ConfigError });
  t.throws(() => node.watch(Room, "r", "nope" as never), { instanceOf: ConfigError, message: /listener function/ });
  await node.ref(Room, "r").leak();
  await tick();
  t.is((leaked[0] as Error | undefined)?.name, "TurnEndedError");
  t.throws(() => defineActor("bad", { state: () => ({}), updates: { kind: "updates" } as never }), { instanceOf: ConfigError, message: /updates<YourUpdate>\(\)/ });
  await node.stop();
  t.throws(() => node.watch(Room, "r", () => undefined), { name: "NodeStoppedError" });
});

test("updates of a passivated and reactivated actor come from a new source: the first says missed", async (t) => {
  const node = await createTestNode({ actors: [Room] });
  const got: Array<ActorUpdate<RoomUpdate>> = [];
  node.watch(Room, "r", (u) => got.push(u));
  await node.ref(Room, "r").post("a", "1");
  await node.passivateAll();
  await node.ref(Room, "r").post("a", "2");
  await node.ref(Room, "r").post("a", "3");
  await tick();
  t.deepEqual(got.map((u) => u.missed), [false, true, false]);
  await node.stop();
});
