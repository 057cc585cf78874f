import { createNode, defineActor, type ActorRef, type AnyActorDefinition } from "berth";
import { gc, interleaved, round, throughput } from "./measure.js";
import type { Benchmark, BenchResult } from "./types.js";

const Counter = defineActor("bench-counter", {
  state: () => ({ n: 0 }),
  handlers: {
    inc(ctx, by: number) {
      ctx.state.n += by;
      return ctx.state.n;
    },
  },
  queries: { get: (ctx) => ctx.state.n },
});

/** The baseline: a plain async method on an object held in a Map. */
class PlainCounter {
  n = 0;
  async inc(by: number): Promise<number> {
    this.n += by;
    return this.n;
  }
  async get(): Promise<number> {
    return this.n;
  }
}

const ACTORS = 1_000;
const IN_FLIGHT = 64;

/** `local-call`: write turns on 1,000 actors with 64 calls in flight, against plain async calls. */
export const localCall: Benchmark = {
  name: "local-call",
  async run({ quick }) {
    const node = await createNode({ actors: [Counter], logger: "silent" });
    const refs = Array.from({ length: ACTORS }, (_, i) => node.ref(Counter, `c${i}`));
    const plain = new Map(Array.from({ length: ACTORS }, (_, i) => [`c${i}`, new PlainCounter()]));
    const ids = [...plain.keys()];
    const count = quick ? 200_000 : 2_000_000;
    // Warm up both paths (activation, JIT).
    await throughput(count / 4, IN_FLIGHT, (i) => (refs[i % ACTORS] as (typeof refs)[number]).inc(1));
    await throughput(count / 4, IN_FLIGHT, (i) => (plain.get(ids[i % ACTORS] as string) as PlainCounter).inc(1));
    const r = await interleaved(quick ? 1 : 5, {
      berth: () => throughput(count, IN_FLIGHT, (i) => (refs[i % ACTORS] as (typeof refs)[number]).inc(1)),
      baseline: () => throughput(count, IN_FLIGHT, (i) => (plain.get(ids[i % ACTORS] as string) as PlainCounter).inc(1)),
      berthQuery: () => throughput(count, IN_FLIGHT, (i) => (refs[i % ACTORS] as (typeof refs)[number]).get()),
    });
    await node.stop();
    return [
      {
        name: "local-call",
        opsPerSec: round(r.berth),
        baselineOpsPerSec: round(r.baseline),
        ratio: round(r.berth / r.baseline, 3),
        queryOpsPerSec: round(r.berthQuery),
        actors: ACTORS,
        inFlight: IN_FLIGHT,
      },
    ];
  },
};

const Empty = defineActor("bench-empty", {
  state: () => ({}),
  queries: { touch: () => true },
});

/** `idle-actor-memory`: heap per activated idle actor with empty state, minus a Map of the same ids. */
export const idleActorMemory: Benchmark = {
  name: "idle-actor-memory",
  async run({ quick }) {
    const count = quick ? 20_000 : 100_000;
    const ids = Array.from({ length: count }, (_, i) => `session-${i.toString().padStart(8, "0")}`);
    // Baseline: the same ids in a Map of empty objects — what any in-memory session store holds.
    gc();
    let before = process.memoryUsage().heapUsed;
    const plain = new Map<string, object>();
    for (const id of ids) plain.set(id, {});
    gc();
    const baselineBytes = (process.memoryUsage().heapUsed - before) / count;
    plain.clear();

    const node = await createNode({ actors: [Empty], logger: "silent", maxActiveActors: count * 2 });
    const refs = ids.map((id) => node.ref(Empty, id));
    await refs[0]?.touch();
    gc();
    before = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i += 1_000) await Promise.all(refs.slice(i, i + 1_000).map((r) => r.touch()));
    gc();
    const bytes = (process.memoryUsage().heapUsed - before) / count;
    const active = node.stats().active;
    await node.stop();
    return [
      {
        name: "idle-actor-memory",
        actors: active,
        bytesPerActor: round(bytes),
        baselineBytesPerActor: round(baselineBytes),
        frameworkOverheadBytes: round(bytes - baselineBytes),
      },
    ];
  },
};

interface Line {
  sku: string;
  qty: number;
  price: number;
  name: string;
  added: number;
}

/** `n` cart lines. */
function lineList(n: number): Line[] {
  return Array.from({ length: n }, (_, i) => ({ sku: `sku-${i}`, qty: 1, price: 9.5, name: "thing", added: i }));
}

/** A cart of `lines` lines; a write turn changes one line's quantity. */
const BigCart = defineActor("bench-big-cart", {
  state: () => ({ lines: [] as Line[] }),
  handlers: {
    fill(ctx, lines: number) {
      ctx.state.lines = lineList(lines);
    },
    bump(ctx, i: number) {
      const line = ctx.state.lines[i % ctx.state.lines.length];
      if (line !== undefined) line.qty++;
    },
  },
});

/**
 * `turn-state-size`: write turns that change one field of a state of 10, 100 and 1,000 objects
 * (5 fields each), against the same change to a plain object in place. A turn copies and
 * compares its whole state (docs/architecture.md#turns), so its cost grows with the state.
 */
export const turnStateSize: Benchmark = {
  name: "turn-state-size",
  run: ({ quick }) =>
    sizedTurns(quick, "turn-state-size", "objects", [10, 100, 1_000], BigCart, (lines) => {
      const cart = { lines: lineList(lines) };
      return {
        fill: (ref) => ref.fill(lines),
        write: (ref, i) => ref.bump(i),
        baseline: (i) => void (cart.lines[i % lines] as Line).qty++,
      };
    }),
};

/**
 * Write turns on 64 actors of `type` at each state size, against a baseline doing the same
 * change to plain objects, interleaved. `make(size)` is one actor's: how to fill it, its write,
 * and the baseline on a plain state of its own.
 */
async function sizedTurns<A extends AnyActorDefinition>(
  quick: boolean,
  name: string,
  sizeField: string,
  sizes: readonly number[],
  type: A,
  make: (size: number) => { fill(ref: ActorRef<A>): Promise<unknown>; write(ref: ActorRef<A>, i: number): Promise<unknown>; baseline(i: number): void },
): Promise<BenchResult[]> {
  const node = await createNode({ actors: [type], logger: "silent" });
  const out: BenchResult[] = [];
  for (const size of sizes) {
    const actors = 64;
    const refs = Array.from({ length: actors }, (_, i) => node.ref(type, `${name}-${size}-${i}`));
    const plain = refs.map(() => make(size));
    await Promise.all(refs.map((r, i) => (plain[i] as ReturnType<typeof make>).fill(r)));
    const count = Math.round((quick ? 20_000 : 200_000) / Math.sqrt(size));
    const r = await interleaved(quick ? 1 : 3, {
      berth: () => throughput(count, IN_FLIGHT, (i) => (plain[i % actors] as ReturnType<typeof make>).write(refs[i % actors] as ActorRef<A>, i)),
      baseline: () => throughput(count, IN_FLIGHT, async (i) => (plain[i % actors] as ReturnType<typeof make>).baseline(i)),
    });
    out.push({ name, [sizeField]: size, opsPerSec: round(r.berth), microsPerTurn: round(1e6 / r.berth, 2), baselineOpsPerSec: round(r.baseline), ratio: round(r.berth / r.baseline, 4) });
  }
  await node.stop();
  return out;
}

/** A log of strings; a write turn appends one. */
const AppendLog = defineActor("bench-append-log", {
  state: () => ({ entries: [] as string[] }),
  handlers: {
    fill(ctx, n: number) {
      for (let i = 0; i < n; i++) ctx.state.entries.push(`entry-${i}`);
    },
    add(ctx, entry: string) {
      ctx.state.entries.push(entry);
    },
  },
});

/**
 * `turn-append`: write turns that append one string to a list of 100, 1,000 and 10,000, against
 * a push onto a plain array. An actor's commit appends in place to the lists its own commits
 * made (until a record of it is taken), so the list is not copied; it is still compared, so the
 * cost still grows with the list, more slowly.
 */
export const turnAppend: Benchmark = {
  name: "turn-append",
  run: ({ quick }) =>
    sizedTurns(quick, "turn-append", "entries", [100, 1_000, 10_000], AppendLog, (entries) => {
      const log = Array.from({ length: entries }, (_, i) => `entry-${i}`);
      return {
        fill: (ref) => ref.fill(entries),
        write: (ref, i) => ref.add(`e${i}`),
        baseline: (i) => void log.push(`e${i}`),
      };
    }),
};
