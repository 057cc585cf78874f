/**
 * Type-level tests of the public API. This file is never run: `npm run build` compiles it,
 * and every `@ts-expect-error` below fails the build if the line it marks compiles — that is,
 * if a wrong call to a typed actor reference were accepted.
 */
import { defineActor, defineMachineActor, sync, token, updates, type ActorRef, type ActorUpdate, type BerthNode, type StateOf } from "berth";
import { createMachine } from "xstate";

interface Prices {
  priceOf(sku: string): number;
}
const PricesToken = token<Prices>("prices");
class Clock2 {
  tick(): number {
    return 1;
  }
}

export const Cart = defineActor("cart", {
  state: () => ({ items: new Map<string, number>(), updatedAt: new Date(0) }),
  deps: { prices: PricesToken, clock: Clock2 },
  handlers: {
    add(ctx, sku: string, qty: number) {
      ctx.state.items.set(sku, (ctx.state.items.get(sku) ?? 0) + qty);
      ctx.state.updatedAt = ctx.now();
      return ctx.state.items.size;
    },
    async clear(ctx) {
      ctx.state.items.clear();
    },
  },
  queries: {
    total(ctx) {
      let sum = 0;
      for (const [sku, qty] of ctx.state.items) sum += ctx.deps.prices.priceOf(sku) * qty + ctx.deps.clock.tick();
      return sum;
    },
    items: (ctx) => [...ctx.state.items.keys()],
  },
});

export const Bare = defineActor("bare", { state: () => ({ n: 0 }), handlers: { inc: (ctx) => ++ctx.state.n } });

declare const node: BerthNode;
const cart: ActorRef<typeof Cart> = node.ref(Cart, "s1");

// Results are promises of the handler's (awaited) return type.
export const size: Promise<number> = cart.add("sku", 2);
export const cleared: Promise<void> = cart.clear();
export const total: Promise<number> = cart.total();
export const items: Promise<string[]> = cart.items();
export const n: Promise<number> = node.ref(Bare, "b").inc();
type CartState = StateOf<typeof Cart>;
export const stateCheck: CartState["items"] = new Map<string, number>();

// @ts-expect-error wrong argument type
cart.add("sku", "2");
// @ts-expect-error missing argument
cart.add("sku");
// @ts-expect-error extra argument
cart.add("sku", 1, 2);
// @ts-expect-error unknown handler
cart.remove("sku");
// @ts-expect-error wrong result type
export const wrong: Promise<string> = cart.add("sku", 1);
// @ts-expect-error a bare actor has no queries
node.ref(Bare, "b").total();

defineActor("ro", {
  state: () => ({ list: [1, 2, 3], m: new Map<string, number>() }),
  queries: {
    bad(ctx) {
      // @ts-expect-error queries see state read-only
      ctx.state.list.push(4);
      // @ts-expect-error read-only maps too
      ctx.state.m.set("a", 1);
      return ctx.state.list.length;
    },
  },
  handlers: {
    good(ctx) {
      ctx.state.list.push(4);
      // @ts-expect-error ctx.deps is empty without deps
      return ctx.deps.prices;
    },
  },
});

const machine = createMachine({
  types: {} as { context: { n: number }; events: { type: "INC" } | { type: "RESET"; to: number } },
  context: { n: 0 },
  on: { INC: {}, RESET: {} },
});
const Machine = defineMachineActor("m", machine);
const m = node.ref(Machine, "m1");
export const sent: Promise<{ context: { n: number } }> = m.send({ type: "RESET", to: 1 });
// @ts-expect-error unknown event type
m.send({ type: "DECREMENT" });
// @ts-expect-error missing event field
m.send({ type: "RESET" });

// Reads from backups: "owner" or "backup", nothing else.
export const Catalog = defineActor("catalog", {
  state: () => ({ items: [] as string[] }),
  backup: sync({ backups: 1 }),
  readFrom: "backup",
  queries: { items: (ctx) => ctx.state.items },
});
export const catalogItems: Promise<readonly string[]> = node.ref(Catalog, "c1").items();
defineActor("nearest", {
  state: () => ({}),
  // @ts-expect-error not a read source
  readFrom: "nearest",
});

// Live updates: typed by `updates<U>()`; without it, `ctx.publish` does not type-check.
type RoomUpdate = { kind: "posted"; text: string } | { kind: "left"; who: string };
export const Room = defineActor("room", {
  state: () => ({ posts: [] as string[] }),
  updates: updates<RoomUpdate>(),
  handlers: {
    post(ctx, text: string) {
      ctx.state.posts.push(text);
      ctx.publish({ kind: "posted", text });
      // @ts-expect-error not a RoomUpdate
      ctx.publish({ kind: "joined" });
    },
  },
});
export const roomWatch = node.watch(Room, "r1", (u: ActorUpdate<RoomUpdate>) => {
  if (u.data.kind === "posted") {
    const text: string = u.data.text;
    void text;
  }
  // @ts-expect-error a RoomUpdate has no such field
  void u.data.who2;
});
defineActor("silent", {
  state: () => ({}),
  handlers: {
    speak(ctx) {
      // @ts-expect-error no updates declared
      ctx.publish({ hello: 1 });
    },
  },
});
