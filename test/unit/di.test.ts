import test from "ava";
import { ActorIdentity, defineActor, inject, injectable, Lifecycle, MissingDependencyError, token, type ActorIdentityValue, type DependencyContainer } from "berth";
import { createTestNode } from "berth/testing";

interface Prices {
  priceOf(sku: string): number;
}
const PricesToken = token<Prices>("prices");

/** A per-activation service: tsyringe builds one per child container, i.e. per actor. */
const auditInstances: string[] = [];
@injectable()
class Audit {
  readonly entries: string[] = [];
  constructor(@inject(ActorIdentity) readonly who: ActorIdentityValue) {
    auditInstances.push(who.id);
  }
  record(what: string): string {
    this.entries.push(what);
    return `${this.who.type}/${this.who.id}: ${what} (#${this.entries.length})`;
  }
}

const Cart = defineActor("cart", {
  state: () => ({ items: new Map<string, number>() }),
  deps: { prices: PricesToken, audit: Audit },
  handlers: {
    add(ctx, sku: string, qty: number) {
      ctx.state.items.set(sku, (ctx.state.items.get(sku) ?? 0) + qty);
      return ctx.deps.audit.record(`add ${sku}`);
    },
  },
  queries: {
    total(ctx) {
      let sum = 0;
      for (const [sku, qty] of ctx.state.items) sum += ctx.deps.prices.priceOf(sku) * qty;
      return sum;
    },
  },
});

function providers(container: DependencyContainer): void {
  container.register(PricesToken, { useValue: { priceOf: (sku: string) => (sku === "apple" ? 3 : 10) } });
  container.register(Audit, { useClass: Audit }, { lifecycle: Lifecycle.ContainerScoped });
}

test("dependencies resolve by explicit token, with constructor injection working under tsx", async (t) => {
  const node = await createTestNode({ actors: [Cart], providers });
  const cart = node.ref(Cart, "s1");
  t.is(await cart.add("apple", 2), "cart/s1: add apple (#1)");
  t.is(await cart.add("pear", 1), "cart/s1: add pear (#2)", "the same activation keeps its instance");
  t.is(await cart.total(), 16);
  await node.stop();
});

test("each activation gets its own child container", async (t) => {
  const node = await createTestNode({ actors: [Cart], providers });
  t.is(await node.ref(Cart, "iso-a").add("x", 1), "cart/iso-a: add x (#1)");
  t.is(await node.ref(Cart, "iso-b").add("x", 1), "cart/iso-b: add x (#1)");
  t.is(await node.ref(Cart, "iso-a").add("y", 1), "cart/iso-a: add y (#2)");
  t.deepEqual(auditInstances.filter((id) => id.startsWith("iso-")).sort(), ["iso-a", "iso-b"]);
  await node.stop();
});

test("nodes in one process have separate root containers", async (t) => {
  const a = await createTestNode({ actors: [Cart], providers });
  const b = await createTestNode({
    actors: [Cart],
    providers(c) {
      providers(c);
      c.register(PricesToken, { useValue: { priceOf: () => 1 } });
    },
  });
  await a.ref(Cart, "s").add("apple", 1);
  await b.ref(Cart, "s").add("apple", 1);
  t.is(await a.ref(Cart, "s").total(), 3);
  t.is(await b.ref(Cart, "s").total(), 1);
  await a.stop();
  await b.stop();
});

test("a missing provider fails the call with an error naming the dependency and the fix", async (t) => {
  const node = await createTestNode({ actors: [Cart] });
  const error = await t.throwsAsync(node.ref(Cart, "s1").add("apple", 1), { instanceOf: MissingDependencyError });
  t.regex(error.message, /actor "cart" needs dependency "prices \(prices\)"/);
  t.regex(error.message, /createNode\(\{ providers/);
  await node.stop();
});
