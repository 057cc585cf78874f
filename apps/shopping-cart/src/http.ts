import { ActorHandlerError } from "berth";
import { defineHttp, jsonBody, liveUpdates, type HttpApp } from "berth/http";
import { Cart, LIMITS, type CartView } from "./cart.js";
import { renderPage } from "./page.js";

/** The body of `POST /api/cart/items`. */
export interface AddItem {
  readonly sku: string;
  readonly qty: number;
}

/** Checks a parsed JSON body: the item, or what is wrong with it. */
export function parseAddItem(body: unknown): AddItem | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return 'the body must be a JSON object {"sku": string, "qty": positive integer}';
  const { sku, qty } = body as Record<string, unknown>;
  if (typeof sku !== "string" || sku.length === 0 || sku.length > LIMITS.maxSkuLength) return `sku must be a string of 1 to ${LIMITS.maxSkuLength} characters`;
  if (typeof qty !== "number" || !Number.isInteger(qty) || qty <= 0) return "qty must be a positive integer";
  if (qty > LIMITS.maxQty) return `qty must be at most ${LIMITS.maxQty}`;
  return { sku, qty };
}

const EMPTY: CartView = { items: [], count: 0 };

/** A refusal by the cart itself (too many of one item, too many lines) is the client's mistake: 400. */
async function cartAnswer(run: () => Promise<CartView>): Promise<CartView | { error: string }> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ActorHandlerError && e.errorName === "CartInputError") return { error: e.message };
    throw e;
  }
}

/**
 * The cart's HTTP API and page. Every handler runs on the node that owns the session, and
 * calls on one session's cart run one at a time, whatever the number of tabs. A request
 * without a cookie reads an empty cart without creating one; the first add creates the
 * session and sets its cookie. `GET /api/cart/updates` streams the cart's changes (Server-Sent
 * Events) from whichever node the request enters, so every tab of a session follows the cart.
 */
export const http = defineHttp(routes, { live: [liveUpdates("/api/cart/updates", Cart)] });

function routes(app: HttpApp): void {
  app.get("/", async (c) => c.html(renderPage(c.var.newSession ? EMPTY : await c.var.session(Cart).get(), c.var.nodeId, !c.var.newSession)));

  app.get("/api/cart", async (c) => c.json(c.var.newSession ? EMPTY : await c.var.session(Cart).get()));

  app.post("/api/cart/items", jsonBody(parseAddItem), async (c) => {
    const { sku, qty } = c.req.valid("json");
    const answer = await cartAnswer(() => c.var.session(Cart).add(sku, qty));
    return "error" in answer ? c.json(answer, 400) : c.json(answer);
  });

  app.delete("/api/cart/items/:sku", async (c) => {
    const sku = c.req.param("sku");
    if (sku.length > LIMITS.maxSkuLength) return c.json({ error: `sku must be a string of 1 to ${LIMITS.maxSkuLength} characters` }, 400);
    return c.json(c.var.newSession ? EMPTY : await c.var.session(Cart).remove(sku));
  });
}
