import autocannon from "autocannon";

/** What one load run measured. */
export interface HttpLoadSample {
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  /** Requests answered with anything but 2xx, connection errors and timeouts. */
  failed: number;
  /** A GET /api/cart whose count differs from what the user's last acknowledged add answered. */
  mismatches: number;
}

/** A shopper: one session cookie, and the item count the last acknowledged add answered. */
interface User {
  cookie: string | undefined;
  count: number;
  adds: number;
}

interface Context {
  user?: User;
}

const SKUS = ["apple", "pear", "plum", "fig", "kiwi"];

/**
 * Drives `base` with `connections` keep-alive connections, each looping POST /api/cart/items
 * then GET /api/cart for a virtual user that keeps its own session cookie (the cookie the first
 * add set). A connection takes a free user for each add-then-get pair and gives it back after the
 * get, so one user's requests never overlap; every user's reads are checked against its writes.
 */
export async function runCartLoad(base: string, options: { connections: number; seconds: number }): Promise<HttpLoadSample> {
  const free: User[] = [];
  let mismatches = 0;
  const cookieOf = (headers: Record<string, string | string[] | undefined> | undefined): string | undefined => {
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (name.toLowerCase() === "set-cookie") return (Array.isArray(value) ? value[0] : value)?.split(";")[0];
    }
    return undefined;
  };
  const result = await autocannon({
    url: base,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    requests: [
      {
        method: "POST",
        path: "/api/cart/items",
        setupRequest: (req, context) => {
          const user = free.pop() ?? { cookie: undefined, count: 0, adds: 0 };
          (context as Context).user = user;
          return {
            ...req,
            headers: { ...req.headers, "content-type": "application/json", ...(user.cookie !== undefined ? { cookie: user.cookie } : {}) },
            body: JSON.stringify({ sku: SKUS[user.adds++ % SKUS.length], qty: 1 }),
          };
        },
        onResponse: (status, body, context, headers) => {
          const user = (context as Context).user as User;
          if (status !== 200) return;
          user.cookie = cookieOf(headers) ?? user.cookie;
          user.count = (JSON.parse(body) as { count: number }).count;
        },
      },
      {
        method: "GET",
        path: "/api/cart",
        setupRequest: (req, context) => {
          const user = (context as Context).user as User;
          return { ...req, headers: { ...req.headers, ...(user.cookie !== undefined ? { cookie: user.cookie } : {}) } };
        },
        onResponse: (status, body, context) => {
          const user = (context as Context).user as User;
          if (status === 200 && (JSON.parse(body) as { count: number }).count !== user.count) mismatches++;
          free.push(user);
        },
      },
    ],
  });
  return {
    reqPerSec: (result["2xx"] + result.non2xx) / result.duration,
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    mismatches,
  };
}
