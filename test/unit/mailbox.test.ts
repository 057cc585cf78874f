import test from "ava";
import { setTimeout as sleep } from "node:timers/promises";
import { defineActor } from "berth";
import { createTestNode } from "berth/testing";

/** Tracks how many turns of each kind run at once, to catch any interleaving. */
function concurrencyProbe() {
  const probe = { writers: 0, readers: 0, maxWriters: 0, maxReaders: 0, mixed: false };
  return {
    probe,
    async write<T>(fn: () => T | Promise<T>): Promise<T> {
      probe.writers++;
      probe.maxWriters = Math.max(probe.maxWriters, probe.writers);
      if (probe.readers > 0) probe.mixed = true;
      try {
        return await fn();
      } finally {
        probe.writers--;
      }
    },
    async read<T>(fn: () => T | Promise<T>): Promise<T> {
      probe.readers++;
      probe.maxReaders = Math.max(probe.maxReaders, probe.readers);
      if (probe.writers > 0) probe.mixed = true;
      try {
        return await fn();
      } finally {
        probe.readers--;
      }
    },
  };
}

test("concurrent callers are serialized, each caller's calls stay in order, none is lost", async (t) => {
  const p = concurrencyProbe();
  const Log = defineActor("log", {
    state: () => ({ entries: [] as string[] }),
    handlers: {
      async append(ctx, token: string) {
        return p.write(async () => {
          const before = ctx.state.entries.length;
          await sleep(Math.random() * 2);
          ctx.state.entries.push(token);
          if (ctx.state.entries.length !== before + 1) throw new Error("interleaved");
          return ctx.state.entries.length;
        });
      },
    },
    queries: { entries: (ctx) => ctx.state.entries },
  });
  const node = await createTestNode({ actors: [Log] });
  const log = node.ref(Log, "shared");
  const callers = 20;
  const perCaller = 10;
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      for (let i = 0; i < perCaller; i++) await log.append(`${c}:${i}`);
    }),
  );
  const entries = await log.entries();
  t.is(entries.length, callers * perCaller);
  t.is(new Set(entries).size, entries.length, "no duplicates");
  for (let c = 0; c < callers; c++) {
    const mine = entries.filter((e) => e.startsWith(`${c}:`)).map((e) => Number(e.split(":")[1]));
    t.deepEqual(mine, [...Array(perCaller).keys()], `caller ${c} kept its order`);
  }
  t.is(p.probe.maxWriters, 1);
  await node.stop();
});

test("calls start in arrival order: a query sees every earlier write", async (t) => {
  const Counter = defineActor("counter", {
    state: () => ({ n: 0 }),
    handlers: {
      async inc(ctx) {
        await sleep(1);
        return ++ctx.state.n;
      },
    },
    queries: { get: (ctx) => ctx.state.n },
  });
  const node = await createTestNode({ actors: [Counter] });
  const c = node.ref(Counter, "c");
  const results = await Promise.all([c.inc(), c.get(), c.inc(), c.get(), c.inc(), c.get()]);
  t.deepEqual(results, [1, 1, 2, 2, 3, 3]);
  await node.stop();
});

test("queries run concurrently with each other but never with a writing turn", async (t) => {
  const p = concurrencyProbe();
  const Doc = defineActor("doc", {
    state: () => ({ text: "" }),
    handlers: {
      async edit(ctx, s: string) {
        await p.write(async () => {
          await sleep(5);
          ctx.state.text += s;
        });
      },
    },
    queries: {
      async read(ctx) {
        return p.read(async () => {
          await sleep(5);
          return ctx.state.text;
        });
      },
    },
  });
  const node = await createTestNode({ actors: [Doc] });
  const d = node.ref(Doc, "d");
  const reads = await Promise.all([d.read(), d.read(), d.read(), d.read()]);
  t.deepEqual(reads, ["", "", "", ""]);
  // Overlap is observed directly, not inferred from elapsed time (a loaded machine stretches time).
  t.is(p.probe.maxReaders, 4, "four queries overlapped");

  const mixed = await Promise.all([d.read(), d.edit("a"), d.read(), d.read(), d.edit("b"), d.read()]);
  t.deepEqual(mixed, ["", undefined, "a", "a", undefined, "ab"]);
  t.false(p.probe.mixed, "no query overlapped a writing turn");
  t.is(p.probe.maxWriters, 1);
  await node.stop();
});

test("different actors run in parallel", async (t) => {
  let running = 0;
  let most = 0;
  const Slow = defineActor("slow", {
    state: () => ({}),
    handlers: {
      async work() {
        most = Math.max(most, ++running);
        await sleep(20);
        running--;
        return true;
      },
    },
  });
  const node = await createTestNode({ actors: [Slow] });
  await Promise.all(Array.from({ length: 10 }, (_, i) => node.ref(Slow, `s${i}`).work()));
  t.is(most, 10, "all ten actors' turns were running at once");
  await node.stop();
});
