import { defineActor, type BackupPolicy } from "berth";
import { defineHttp } from "berth/http";

/**
 * A session counter and an HTTP app of two routes on it — `GET /n` and `POST /add` — that hold
 * the requests they get, before they reach the actor, while `hold.armed` is set and
 * `holds(node)` says so, until `hold.release()`. Tests of failures under forwarded requests use
 * it to have requests in flight on a node at a chosen moment.
 */
export function heldCounterApp(options: { backup?: BackupPolicy; holds?: (nodeId: string) => boolean } = {}) {
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
