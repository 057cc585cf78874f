import { defineActor, sync } from "berth";

/** One line of a cart. */
export interface CartLine {
  readonly sku: string;
  readonly qty: number;
}

/** What every cart operation answers: the lines in the order first added, and the item count. */
export interface CartView {
  readonly items: CartLine[];
  readonly count: number;
}

/** What a cart accepts: at most `maxQty` of one SKU, `maxLines` different SKUs, SKUs of 1 to `maxSkuLength` characters. */
export const LIMITS = { maxQty: 1_000, maxLines: 100, maxSkuLength: 64 } as const;

/** Thrown for a change the cart refuses; the HTTP layer answers it with a 400. */
export class CartInputError extends Error {
  override name = "CartInputError";
}

function view(items: ReadonlyMap<string, number>): CartView {
  const lines = [...items].map(([sku, qty]) => ({ sku, qty }));
  return { items: lines, count: lines.reduce((n, l) => n + l.qty, 0) };
}

/**
 * A shopping cart, one actor per browser session. It checks its own input, so no caller can
 * corrupt it. `sync({ backups: 1 })`: a change is acknowledged (and the HTTP response sent)
 * only once a backup node holds it, so the cart survives the death of its node. Passivated
 * after 10 idle minutes (its state is kept), deleted after 30 — a session timing out.
 */
export const Cart = defineActor("cart", {
  state: () => ({ items: new Map<string, number>() }),
  backup: sync({ backups: 1 }),
  idleTimeout: "10m",
  expireAfter: "30m",
  handlers: {
    add(ctx, sku: string, qty: number): CartView {
      if (typeof sku !== "string" || sku.length === 0 || sku.length > LIMITS.maxSkuLength) {
        throw new CartInputError(`sku must be a string of 1 to ${LIMITS.maxSkuLength} characters`);
      }
      if (!Number.isSafeInteger(qty) || qty <= 0) throw new CartInputError("qty must be a positive integer");
      const next = (ctx.state.items.get(sku) ?? 0) + qty;
      if (next > LIMITS.maxQty) throw new CartInputError(`at most ${LIMITS.maxQty} of one item`);
      if (!ctx.state.items.has(sku) && ctx.state.items.size >= LIMITS.maxLines) throw new CartInputError(`at most ${LIMITS.maxLines} different items`);
      ctx.state.items.set(sku, next);
      return view(ctx.state.items);
    },
    remove(ctx, sku: string): CartView {
      ctx.state.items.delete(sku);
      return view(ctx.state.items);
    },
  },
  queries: {
    get: (ctx): CartView => view(ctx.state.items),
  },
});
