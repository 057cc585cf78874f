import { assign, setup } from "xstate";
import { defineMachineActor, sync } from "berth";

/** A checkout with no activity for this long is abandoned (15 minutes). */
export const ABANDON_AFTER_MS = 15 * 60_000;

/** What a checkout accepts: at most `maxLines` different SKUs, `maxQty` of one, SKUs of 1 to `maxSkuLength` characters. */
export const LIMITS = { maxLines: 50, maxQty: 100, maxSkuLength: 64, maxFieldLength: 200 } as const;

export interface Line {
  readonly sku: string;
  readonly qty: number;
}

export interface Address {
  readonly name: string;
  readonly street: string;
  readonly city: string;
  readonly postcode: string;
}

export interface CheckoutContext {
  readonly items: Line[];
  readonly address: Address | null;
  /** The payment provider's reference, once paid. */
  readonly paymentRef: string | null;
}

/** The events a caller may send; `BACK` returns to the previous step. */
export type CheckoutEvent =
  | { type: "ADD_ITEM"; sku: string; qty: number }
  | { type: "REMOVE_ITEM"; sku: string }
  | { type: "CHECKOUT" }
  | { type: "SET_ADDRESS"; address: Address }
  | { type: "PAY"; paymentRef: string }
  | { type: "BACK" }
  | { type: "RESTART" };

const EMPTY: CheckoutContext = { items: [], address: null, paymentRef: null };

function isText(v: unknown, max: number): v is string {
  return typeof v === "string" && v.trim().length > 0 && v.length <= max;
}

/** Whether a value is a complete address (every field a non-empty string). */
export function isAddress(v: unknown): v is Address {
  if (typeof v !== "object" || v === null) return false;
  const a = v as Record<string, unknown>;
  return (["name", "street", "city", "postcode"] as const).every((k) => isText(a[k], LIMITS.maxFieldLength));
}

/**
 * The checkout wizard: cart → shipping → payment → done. Every step has the same deadline:
 * no activity for `abandonAfter` (15 minutes) and the checkout is `abandoned`. Leaving a
 * step cancels its deadline and entering the next starts a new one; changing the cart
 * re-enters the cart step (`reenter: true`), so any accepted event counts as activity.
 *
 * Guards check the events' contents too: a machine actor's events come from callers, and an
 * event a guard refuses is refused as a whole (see `refuseUnhandled` below).
 */
export const checkoutMachine = setup({
  types: {
    context: {} as CheckoutContext,
    events: {} as CheckoutEvent,
    output: {} as { items: Line[]; address: Address; paymentRef: string },
  },
  delays: {
    abandonAfter: ABANDON_AFTER_MS,
  },
  guards: {
    validItem: ({ context, event }) => {
      if (event.type !== "ADD_ITEM" || !isText(event.sku, LIMITS.maxSkuLength) || !Number.isSafeInteger(event.qty) || event.qty <= 0) return false;
      const line = context.items.find((l) => l.sku === event.sku);
      return line ? line.qty + event.qty <= LIMITS.maxQty : event.qty <= LIMITS.maxQty && context.items.length < LIMITS.maxLines;
    },
    hasLine: ({ context, event }) => event.type === "REMOVE_ITEM" && context.items.some((l) => l.sku === event.sku),
    hasItems: ({ context }) => context.items.length > 0,
    validAddress: ({ event }) => event.type === "SET_ADDRESS" && isAddress(event.address),
    validPayment: ({ event }) => event.type === "PAY" && isText(event.paymentRef, LIMITS.maxFieldLength),
  },
  actions: {
    addItem: assign({
      items: ({ context, event }) => {
        if (event.type !== "ADD_ITEM") return context.items;
        const found = context.items.some((l) => l.sku === event.sku);
        return found ? context.items.map((l) => (l.sku === event.sku ? { sku: l.sku, qty: l.qty + event.qty } : l)) : [...context.items, { sku: event.sku, qty: event.qty }];
      },
    }),
    removeItem: assign({ items: ({ context, event }) => (event.type === "REMOVE_ITEM" ? context.items.filter((l) => l.sku !== event.sku) : context.items) }),
    setAddress: assign({ address: ({ context, event }) => (event.type === "SET_ADDRESS" ? { ...event.address } : context.address) }),
    setPayment: assign({ paymentRef: ({ context, event }) => (event.type === "PAY" ? event.paymentRef : context.paymentRef) }),
    reset: assign(() => ({ ...EMPTY, items: [] })),
  },
}).createMachine({
  id: "checkout",
  context: { ...EMPTY, items: [] },
  initial: "cart",
  states: {
    cart: {
      after: { abandonAfter: "abandoned" },
      on: {
        ADD_ITEM: { guard: "validItem", target: "cart", reenter: true, actions: "addItem" },
        REMOVE_ITEM: { guard: "hasLine", target: "cart", reenter: true, actions: "removeItem" },
        CHECKOUT: { guard: "hasItems", target: "shipping" },
      },
    },
    shipping: {
      after: { abandonAfter: "abandoned" },
      on: {
        SET_ADDRESS: { guard: "validAddress", target: "payment", actions: "setAddress" },
        BACK: "cart",
      },
    },
    payment: {
      after: { abandonAfter: "abandoned" },
      on: {
        PAY: { guard: "validPayment", target: "done", actions: "setPayment" },
        BACK: "shipping",
      },
    },
    done: { type: "final" },
    abandoned: {
      on: { RESTART: { target: "cart", actions: "reset" } },
    },
  },
  output: ({ context }) => ({ items: context.items, address: context.address as Address, paymentRef: context.paymentRef as string }),
});

/**
 * The checkout as an actor, one per session. The machine's `after` deadlines become durable
 * timers: they fire on time whether the actor is active, passivated (`idleTimeout` is shorter
 * than the deadline) or moved to another node meanwhile. `refuseUnhandled`: an event the
 * current step does not accept fails with `EventNotAcceptedError` instead of being ignored.
 *
 * @param abandonAfterMs the inactivity deadline; tests on a real clock shorten it
 * @example
 * ```ts
 * const Checkout = defineCheckout();                       // 15 minutes
 * const Quick = defineCheckout({ abandonAfterMs: 3_000 }); // a test on a real cluster
 * ```
 */
export function defineCheckout({ abandonAfterMs = ABANDON_AFTER_MS }: { abandonAfterMs?: number } = {}) {
  return defineMachineActor("checkout", checkoutMachine.provide({ delays: { abandonAfter: abandonAfterMs } }), {
    backup: sync({ backups: 1 }),
    idleTimeout: "5m",
    expireAfter: "1h", // a finished or abandoned checkout nobody looks at is deleted
    refuseUnhandled: true,
  });
}

export const Checkout = defineCheckout();
