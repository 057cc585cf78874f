import { EventNotAcceptedError, type MachineView } from "berth";
import { defineHttp, jsonBody } from "berth/http";
import { Checkout, checkoutMachine, isAddress, LIMITS, type CheckoutContext, type CheckoutEvent } from "./checkout.js";

/** What the API answers: the step the checkout is in and what it holds. */
export interface CheckoutView extends CheckoutContext {
  readonly step: string;
}

function toView(v: MachineView<typeof checkoutMachine>): CheckoutView {
  return { step: String(v.value), ...v.context };
}

/** A session that never sent an event has no checkout actor yet; this is what it would show. */
const FRESH: CheckoutView = { step: "cart", items: [], address: null, paymentRef: null };

const EVENT_TYPES = ["ADD_ITEM", "REMOVE_ITEM", "CHECKOUT", "SET_ADDRESS", "PAY", "BACK", "RESTART"];

/**
 * Checks a parsed JSON body: an event of the checkout with the fields its type needs, or what
 * is wrong with it (answered as a 400). Whether the current step accepts it is the machine's
 * business (409 otherwise).
 */
export function parseEvent(body: unknown): CheckoutEvent | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return `the body must be a JSON object {"type": ${EVENT_TYPES.join(" | ")}, ...}`;
  const b = body as Record<string, unknown>;
  const text = (v: unknown, max: number): v is string => typeof v === "string" && v.length > 0 && v.length <= max;
  switch (b.type) {
    case "ADD_ITEM":
      if (!text(b.sku, LIMITS.maxSkuLength)) return `sku must be a string of 1 to ${LIMITS.maxSkuLength} characters`;
      if (typeof b.qty !== "number" || !Number.isSafeInteger(b.qty) || b.qty <= 0) return "qty must be a positive integer";
      return { type: "ADD_ITEM", sku: b.sku, qty: b.qty };
    case "REMOVE_ITEM":
      return text(b.sku, LIMITS.maxSkuLength) ? { type: "REMOVE_ITEM", sku: b.sku } : `sku must be a string of 1 to ${LIMITS.maxSkuLength} characters`;
    case "SET_ADDRESS":
      if (!isAddress(b.address)) return "address must be an object with non-empty strings name, street, city and postcode";
      return { type: "SET_ADDRESS", address: { name: b.address.name, street: b.address.street, city: b.address.city, postcode: b.address.postcode } };
    case "PAY":
      return text(b.paymentRef, LIMITS.maxFieldLength) ? { type: "PAY", paymentRef: b.paymentRef } : "paymentRef must be a non-empty string";
    case "CHECKOUT":
    case "BACK":
    case "RESTART":
      return { type: b.type };
    default:
      return `type must be one of ${EVENT_TYPES.join(", ")}`;
  }
}

/**
 * The checkout's HTTP API: one checkout per session (the signed `berth.sid` cookie), run on
 * the node that owns the session.
 */
export const http = defineHttp(
  (app) => {
    app.get("/", (c) => c.text(`A checkout wizard per browser session, served by node ${c.var.nodeId}.\n\nGET /api/checkout · POST /api/checkout/events {"type": "ADD_ITEM", "sku": "apple", "qty": 2}\n`));

    app.get("/api/checkout", async (c) => c.json(c.var.newSession ? FRESH : toView(await c.var.session(Checkout).snapshot())));

    app.post("/api/checkout/events", jsonBody(parseEvent), async (c) => {
      try {
        return c.json(toView(await c.var.session(Checkout).send(c.req.valid("json"))));
      } catch (e) {
        if (e instanceof EventNotAcceptedError) {
          const step = typeof e.state === "string" ? e.state : JSON.stringify(e.state);
          return c.json({ error: `${e.eventType} is not possible in the ${step} step`, step }, 409);
        }
        throw e;
      }
    });
  },
  { bodyLimit: 16 * 1024 },
);
