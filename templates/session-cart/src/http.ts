import { ActorHandlerError } from "berth";
import { defineHttp, jsonBody } from "berth/http";
import { Cart, LIMITS, type CartView } from "./cart.js";

/** The body of `POST /api/cart/items`. */
export interface AddItem {
  readonly sku: string;
  readonly qty: number;
}

/** Checks a parsed JSON body: the item to add, or what is wrong with it (answered as a 400). */
export function parseAddItem(body: unknown): AddItem | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return 'the body must be a JSON object {"sku": string, "qty": positive integer}';
  const { sku, qty } = body as Record<string, unknown>;
  if (typeof sku !== "string" || sku.length === 0 || sku.length > LIMITS.maxSkuLength) return `sku must be a string of 1 to ${LIMITS.maxSkuLength} characters`;
  if (typeof qty !== "number" || !Number.isSafeInteger(qty) || qty <= 0) return "qty must be a positive integer";
  return { sku, qty };
}

const EMPTY: CartView = { items: [], count: 0 };

/** Request bodies above this size get a 413 (Berth's default is 64 KiB; a cart needs far less). */
export const BODY_LIMIT = 16 * 1024;

/**
 * The cart's HTTP API. Each request belongs to a session (the signed `berth.sid` cookie), and
 * its handler runs on the node that owns that session, whichever node it entered. Reading
 * without a cookie answers an empty cart and creates nothing; the first add starts the
 * session and sets the cookie.
 */
export const http = defineHttp(
  (app) => {
    app.get("/", (c) =>
      c.text(`A cart per browser session, served by node ${c.var.nodeId}.\n\nGET /api/cart · POST /api/cart/items {"sku": "apple", "qty": 2} · DELETE /api/cart/items/:sku\n`),
    );

    app.get("/api/cart", async (c) => c.json(c.var.newSession ? EMPTY : await c.var.session(Cart).get()));

    app.post("/api/cart/items", jsonBody(parseAddItem), async (c) => {
      const { sku, qty } = c.req.valid("json");
      try {
        return c.json(await c.var.session(Cart).add(sku, qty));
      } catch (e) {
        // The cart's own refusals (too many of one item...) are the client's mistake.
        if (e instanceof ActorHandlerError && e.errorName === "CartInputError") return c.json({ error: e.message }, 400);
        throw e; // anything else: 500, logged with its stack
      }
    });

    app.delete("/api/cart/items/:sku", async (c) => c.json(c.var.newSession ? EMPTY : await c.var.session(Cart).remove(c.req.param("sku"))));
  },
  { bodyLimit: BODY_LIMIT },
);
