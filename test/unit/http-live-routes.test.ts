import test from "ava";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, defineActor, updates } from "berth";
import { createHttpHandler, defineHttp, liveUpdates } from "berth/http";
import { createTestNode } from "berth/testing";

/**
 * Routes reaching shared actors (`c.var.ref`) and live routes with an `id` function, on one
 * in-process node: members of a room see its posts; others get 403; wrong methods and bad
 * encodings get clear answers.
 */

const Room = defineActor("room", {
  state: () => ({ members: [] as string[], posts: [] as string[] }),
  updates: updates<{ from: string; text: string }>(),
  handlers: {
    join(ctx, who: string) {
      if (!ctx.state.members.includes(who)) ctx.state.members.push(who);
    },
    post(ctx, from: string, text: string) {
      if (!ctx.state.members.includes(from)) throw new Error("join first");
      ctx.state.posts.push(text);
      ctx.publish({ from, text });
    },
  },
  queries: { isMember: (ctx, who: string) => ctx.state.members.includes(who) },
});

const http = defineHttp(
  (app) => {
    app.post("/rooms/:room/join", async (c) => {
      await c.var.ref(Room, c.req.param("room")).join(c.var.sessionId);
      return c.json({ ok: true });
    });
    app.post("/rooms/:room/posts", async (c) => {
      await c.var.ref(Room, c.req.param("room")).post(c.var.sessionId, await c.req.text());
      return c.json({ ok: true });
    });
  },
  {
    live: [
      liveUpdates("/rooms/:room/updates", Room, async ({ params, sessionId, node }) =>
        params.room !== undefined && sessionId !== null && (await node.ref(Room, params.room).isMember(sessionId)) ? params.room : null,
      ),
    ],
  },
);

test("c.var.ref reaches a shared actor; a live route's id function decides who may watch", async (t) => {
  const node = await createTestNode({ actors: [Room] });
  const server = createServer(createHttpHandler({ node, app: http, secrets: [randomBytes(32).toString("hex")] }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await node.stop();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const join = await fetch(`${base}/rooms/lobby/join`, { method: "POST" });
  t.is(join.status, 200);
  const ann = (join.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const bob = ((await fetch(`${base}/rooms/other/join`, { method: "POST" })).headers.get("set-cookie") ?? "").split(";")[0] as string;

  t.is((await fetch(`${base}/rooms/lobby/updates`, { headers: { cookie: bob } })).status, 403, "not a member of the lobby");
  t.is((await fetch(`${base}/rooms/lobby/updates`)).status, 403, "no session at all");
  t.is((await fetch(`${base}/rooms/lobby/updates`, { method: "DELETE", headers: { cookie: ann } })).status, 405);
  t.is((await fetch(`${base}/rooms/%E0%A4%A/updates`, { headers: { cookie: ann } })).status, 400);

  const res = await fetch(`${base}/rooms/lobby/updates`, { headers: { cookie: ann } });
  t.is(res.status, 200);
  t.is(res.headers.get("x-berth-node"), node.id, "the node serving the stream, like every response");
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("watching room")) text += new TextDecoder().decode((await reader.read()).value);
  t.is((await fetch(`${base}/rooms/lobby/posts`, { method: "POST", headers: { cookie: ann }, body: "hi all" })).status, 200);
  while (!text.includes("hi all")) text += new TextDecoder().decode((await reader.read()).value);
  t.regex(text, /id: 1\ndata: \{"from":"[^"]+","text":"hi all"\}\n\n/);
  await reader.cancel();
});

test("liveUpdates refuses a type without updates, a bad path, and defineHttp a wrong live option", (t) => {
  const Quiet = defineActor("quiet", { state: () => ({}) });
  t.throws(() => liveUpdates("/q", Quiet), { instanceOf: ConfigError, message: /declares no live updates/ });
  t.throws(() => liveUpdates("q", Room), { instanceOf: ConfigError, message: /must start with "\/"/ });
  t.throws(() => liveUpdates("/_berth/x", Room), { instanceOf: ConfigError });
  t.throws(() => defineHttp(() => undefined, { live: {} as never }), { instanceOf: ConfigError, message: /array of liveUpdates/ });
});
