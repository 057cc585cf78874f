// The http-session baseline's app server: the shopping cart of apps/shopping-cart on the usual
// stack — express + express-session + connect-redis. Same routes, same validation, same JSON
// answers; the cart lives in the session, so every request reads it from Redis and every add
// writes it back. Usage: cartApp.ts <port> <redis-url> <secret>
import { createServer } from "node:http";
import { RedisStore } from "connect-redis";
import express, { type ErrorRequestHandler, type Request } from "express";
import session from "express-session";
import { createClient } from "redis";
import { LIMITS, type CartLine, type CartView } from "../../../apps/shopping-cart/src/cart.js";
import { parseAddItem } from "../../../apps/shopping-cart/src/http.js";

declare module "express-session" {
  interface SessionData {
    /** The cart's lines in the order they were first added (a Map does not survive JSON). */
    cart: CartLine[];
  }
}

const [port, redisUrl, secret] = process.argv.slice(2) as [string, string, string];
const BODY_LIMIT = 64 * 1024; // defineHttp's default
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

const redis = createClient({ url: redisUrl });
redis.on("error", (err: Error) => process.stderr.write(`redis: ${err.message}\n`));
await redis.connect();

function view(lines: readonly CartLine[]): CartView {
  return { items: lines.map((l) => ({ sku: l.sku, qty: l.qty })), count: lines.reduce((n, l) => n + l.qty, 0) };
}

/** Cart.add of apps/shopping-cart/src/cart.ts on a list of lines: the new lines, or the refusal. */
function add(lines: readonly CartLine[], sku: string, qty: number): CartLine[] | string {
  const at = lines.findIndex((l) => l.sku === sku);
  const next = (at === -1 ? 0 : (lines[at] as CartLine).qty) + qty;
  if (next > LIMITS.maxQty) return `at most ${LIMITS.maxQty} of one item`;
  if (at === -1 && lines.length >= LIMITS.maxLines) return `at most ${LIMITS.maxLines} different items`;
  return at === -1 ? [...lines, { sku, qty }] : lines.map((l, i) => (i === at ? { sku, qty: next } : l));
}

const cartOf = (req: Request): CartLine[] => req.session.cart ?? [];

const app = express();
app.disable("x-powered-by");
app.disable("etag");
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: "cart:" }),
    secret,
    name: "sid",
    resave: false,
    saveUninitialized: false, // like Berth: reading an empty cart creates no session
    cookie: { httpOnly: true, sameSite: "lax" },
  }),
);

app.get("/api/cart", (req, res) => {
  res.json(view(cartOf(req)));
});

app.post(
  "/api/cart/items",
  (req, res, next) => {
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(type)) {
      res.status(415).json({ error: `send the body as JSON with Content-Type: application/json (got ${type === "" ? "no Content-Type" : type})` });
      return;
    }
    next();
  },
  express.text({ type: () => true, limit: BODY_LIMIT }),
  (req, res) => {
    let value: unknown;
    try {
      value = JSON.parse(typeof req.body === "string" ? req.body : "");
    } catch {
      res.status(400).json({ error: "the request body is not valid JSON" });
      return;
    }
    const item = parseAddItem(value);
    if (typeof item === "string") {
      res.status(400).json({ error: item });
      return;
    }
    const lines = add(cartOf(req), item.sku, item.qty);
    if (typeof lines === "string") {
      res.status(400).json({ error: lines });
      return;
    }
    req.session.cart = lines;
    res.json(view(lines));
  },
);

app.delete("/api/cart/items/:sku", (req, res) => {
  const sku = req.params.sku as string;
  if (sku.length > LIMITS.maxSkuLength) {
    res.status(400).json({ error: `sku must be a string of 1 to ${LIMITS.maxSkuLength} characters` });
    return;
  }
  if (req.session.cart === undefined) {
    res.json(view([]));
    return;
  }
  req.session.cart = req.session.cart.filter((l) => l.sku !== sku);
  res.json(view(req.session.cart));
});

app.use((req, res) => {
  res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
});

const onError: ErrorRequestHandler = (err: { type?: string; status?: number }, _req, res, next) => {
  if (res.headersSent) next(err); // express closes the connection
  else if (err.type === "entity.too.large") res.status(413).json({ error: `request body is larger than ${BODY_LIMIT} bytes` });
  else if (typeof err.status === "number" && err.status >= 400 && err.status < 500) res.status(err.status).json({ error: "bad request" });
  else res.status(500).json({ error: "internal error" });
};
app.use(onError);

const server = createServer(app);
server.keepAliveTimeout = 65_000; // as createHttpNode sets it
server.headersTimeout = 66_000;
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\n"));

// Exit with the benchmark, whatever happens to it.
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 500).unref();
