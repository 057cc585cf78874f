import type { ExecutionContext } from "ava";
import { defineActor, type BackupPolicy } from "berth";
import { defineHttp } from "berth/http";

/**
 * A session counter and an HTTP app of two routes on it — `GET /n` and `POST /add` — that hold
 * the requests they get, before they reach the actor, while `hold.armed` is set and
 * `holds(node)` says so, until `hold.release()`. Tests of failures under forwarded requests use
 * it to have requests in flight on a node at a chosen moment. With `maxPerKind`, requests of a
 * kind (GET, POST) beyond that many held pass: the sessions not held keep going, so both kinds
 * end up held once the node serves more sessions than `maxPerKind` (holding everything, a node
 * whose sessions all happened to be at a GET when it was armed never holds a POST).
 */
export function heldCounterApp(options: { backup?: BackupPolicy; holds?: (nodeId: string) => boolean; maxPerKind?: number } = {}) {
  const Counter = defineActor("counter", {
    state: () => ({ n: 0 }),
    ...(options.backup === undefined ? {} : { backup: options.backup }),
    handlers: { add: (ctx) => ++ctx.state.n, get: (ctx) => ctx.state.n },
  });
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const hold = { armed: false, gets: 0, posts: 0, release: (): void => release() };
  const holds = options.holds ?? (() => true);
  const held = async (nodeId: string, kind: "get" | "post"): Promise<void> => {
    if (!hold.armed || !holds(nodeId)) return;
    if ((kind === "get" ? hold.gets : hold.posts) >= (options.maxPerKind ?? Number.POSITIVE_INFINITY)) return;
    if (kind === "get") hold.gets++;
    else hold.posts++;
    await released;
  };
  const app = defineHttp((r) => {
    r.get("/n", async (c) => {
      await held(c.var.nodeId, "get");
      return c.json({ n: await c.var.session(Counter).get() });
    });
    r.post("/add", async (c) => {
      await held(c.var.nodeId, "post");
      return c.json({ n: await c.var.session(Counter).add() });
    });
  });
  return { Counter, app, hold };
}

/** One session of `counterTraffic`: its cookie, the POSTs answered 200, and those answered 502 "may or may not have been applied". */
export interface CounterSession {
  readonly cookie: string;
  added: number;
  uncertain: number;
}

/**
 * Load on the routes of `heldCounterApp` through `baseUrl`: `sessions` sessions (each made by a
 * first POST), each looping GET then POST (the even ones) or POST then GET (the odd ones), so
 * both kinds are in flight at any moment. `answers` counts the answers by "METHOD status";
 * `failures` lists every answer other than a GET 200, a POST 200 or a POST 502 "may or may not
 * have been applied". `checkCounts` asserts that no POST ran twice and none answered 200 was lost.
 */
export async function counterTraffic(t: ExecutionContext, baseUrl: string, sessions: number) {
  const all: CounterSession[] = await Promise.all(
    Array.from({ length: sessions }, async () => {
      const res = await fetch(`${baseUrl}/add`, { method: "POST" });
      t.is(res.status, 200);
      await res.text();
      return { cookie: res.headers.get("set-cookie")?.split(";")[0] ?? "", added: 1, uncertain: 0 };
    }),
  );
  const answers = new Map<string, number>();
  const failures: string[] = [];
  const count = (what: string): void => void answers.set(what, (answers.get(what) ?? 0) + 1);
  const get = async (s: CounterSession, i: number): Promise<void> => {
    const res = await fetch(`${baseUrl}/n`, { headers: { cookie: s.cookie } });
    const body = await res.text();
    count(`GET ${res.status}`);
    if (res.status !== 200) failures.push(`GET of session ${i}: ${res.status} ${body}`);
  };
  const post = async (s: CounterSession, i: number): Promise<void> => {
    const res = await fetch(`${baseUrl}/add`, { method: "POST", headers: { cookie: s.cookie } });
    const body = await res.text();
    count(`POST ${res.status}`);
    if (res.status === 200) s.added++;
    else if (res.status === 502 && /may or may not have been applied/.test(body)) s.uncertain++;
    else failures.push(`POST of session ${i}: ${res.status} ${body}`);
  };
  let running = true;
  const loops = all.map(async (s, i) => {
    while (running) {
      if (i % 2 === 0) {
        await get(s, i);
        await post(s, i);
      } else {
        await post(s, i);
        await get(s, i);
      }
    }
  });
  return {
    sessions: all,
    answers,
    failures,
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
    /** No POST ran twice: each session's count is what it was told, plus at most its uncertain ones. */
    async checkCounts(): Promise<void> {
      for (const s of all) {
        const res = await fetch(`${baseUrl}/n`, { headers: { cookie: s.cookie } });
        const { n } = (await res.json()) as { n: number };
        t.true(n >= s.added && n <= s.added + s.uncertain, `count ${n}, acknowledged ${s.added}, uncertain ${s.uncertain}`);
      }
    },
  };
}
