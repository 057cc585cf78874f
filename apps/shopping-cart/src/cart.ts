import { defineActor, sync, updates } from "berth";

/** One line of a cart. */
export interface CartLine {
  readonly sku: string;
  readonly qty: number;
}

/** What every cart operation answers: the lines, in the order they were first added, and the item count. */
export interface CartView {
  readonly items: CartLine[];
  readonly count: number;
}

/** Largest quantity of one SKU and number of distinct SKUs a cart accepts. */
export const LIMITS = { maxQty: 10_000, maxLines: 200, maxSkuLength: 64 };

/** Thrown for a request the cart refuses; the HTTP layer turns it into a 400. */
export class CartInputError extends Error {
  override name = "CartInputError";
}

function view(items: Map<string, number>): CartView {
  const lines = [...items].map(([sku, qty]) => ({ sku, qty }));
  return { items: lines, count: lines.reduce((n, l) => n + l.qty, 0) };
}

/** The view after a change, published to the cart's watchers and answered to the caller. */
function changed(ctx: { readonly state: { readonly items: Map<string, number> }; publish(update: CartView): void }): CartView {
  const v = view(ctx.state.items);
  ctx.publish(v);
  return v;
}

/**
 * A shopping cart: one actor per browser session. The actor checks its own input too, so
 * the cart is never corrupted whoever calls it (HTTP, another actor, a script). A change is
 * acknowledged only once a backup node holds it (`sync`), so it survives the owner's death;
 * a cart nobody touched for 30 minutes is deleted, like a servlet session timing out. Every
 * change publishes the new view as a live update, which the page's other tabs follow
 * (`GET /api/cart/updates`).
 */
export const Cart = defineActor("cart", {
  state: () => ({ items: new Map<string, number>(), updatedAt: new Date(0) }),
  backup: sync({ backups: 1 }),
  idleTimeout: "10m",
  expireAfter: "30m",
  updates: updates<CartView>(),
  handlers: {
    add(ctx, sku: string, qty: number): CartView {
      if (typeof sku !== "string" || sku.length === 0 || sku.length > LIMITS.maxSkuLength) {
        throw new CartInputError(`sku must be a string of 1 to ${LIMITS.maxSkuLength} characters`);
      }
      if (!Number.isInteger(qty) || qty <= 0) throw new CartInputError("qty must be a positive integer");
      const next = (ctx.state.items.get(sku) ?? 0) + qty;
      if (next > LIMITS.maxQty) throw new CartInputError(`at most ${LIMITS.maxQty} of one item`);
      if (!ctx.state.items.has(sku) && ctx.state.items.size >= LIMITS.maxLines) throw new CartInputError(`at most ${LIMITS.maxLines} different items`);
      ctx.state.items.set(sku, next);
      ctx.state.updatedAt = ctx.now();
      return changed(ctx);
    },
    remove(ctx, sku: string): CartView {
      ctx.state.items.delete(sku);
      ctx.state.updatedAt = ctx.now();
      return changed(ctx);
    },
    clear(ctx): CartView {
      ctx.state.items.clear();
      ctx.state.updatedAt = ctx.now();
      return changed(ctx);
    },
  },
  queries: {
    get: (ctx): CartView => view(ctx.state.items as Map<string, number>),
  },
});
