import test from "ava";
import { CallOutcomeUnknownError, defineActor, sync, type ClusterNode } from "berth";
import { makeCallId } from "../../framework/src/actor/callIds.js";
import { sendCall } from "../../framework/src/transport/rpc.js";
import type { CallRequest } from "../../framework/src/transport/wire.js";
import { LogSyncBackup } from "../fixtures/log-app/app.js";
import { clusterNodes } from "../helpers/cluster.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * Exactly-once by call id holds while the actor keeps the call's outcome: its last 64, for at
 * most the dedup window. Found by the partition test: a node cut off mid-call retried the call
 * after the partition healed, on the successor, 700 calls later — the outcome was long gone and
 * the write was applied a second time. A retry older than the outcomes an actor forgot is now
 * refused with `CallOutcomeUnknownError` instead, on the owner and on a successor alike (the
 * time of the newest forgotten outcome travels with the actor's backups and records).
 */

const nats = natsForFile("single");

/** A call with an id of the test's choosing (as a retry through Berth sends it), from `gw` to the session's owner. */
function caller(gw: ClusterNode, actorType: string, session: string, method: string) {
  return (callId: string, token: string): Promise<unknown> => {
    const req: CallRequest = { callId, actorType, actorId: session, method, args: [token], ttlMs: 5_000, epoch: gw.view.epoch, from: gw.id };
    return sendCall(gw.transport, gw.locate(session).owner as string, req);
  };
}

test("a retry whose outcome the actor forgot is refused, not run twice — also after a failover; a retry it remembers is answered, a new call runs", async (t) => {
  t.timeout(60_000);
  const nodes = await clusterNodes(t, { count: 3, cluster: uniqueCluster(), urls: nats.urls, actors: [LogSyncBackup], ids: ["a", "b", "gw"], roles: ["worker", "worker", "gateway"] });
  const [a, , gw] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  let k = 0;
  while (gw.locate(`s${k}`).owner !== "a") k++;
  const session = `s${k}`;
  let n = 0;
  const call = caller(gw, LogSyncBackup.name, session, "append");
  const fresh = (): string => makeCallId("test", n++, Date.now());

  const first = fresh();
  t.is(await call(first, "first"), 1);
  const kept = fresh();
  t.is(await call(kept, "kept"), 2);
  t.is(await call(kept, "kept"), 2, "a retry the actor remembers is answered from its outcome");
  // 63 more calls push `first` (and `kept`) out of the window of 64 outcomes.
  for (let i = 0; i < 63; i++) await call(fresh(), `t${i}`);
  const error = await t.throwsAsync(call(first, "first"), { instanceOf: CallOutcomeUnknownError });
  t.regex(error?.message ?? "", /may have run already, so it was not run again/);
  t.is(await call(fresh(), "new"), 66, "a new call runs");
  const afterRetries = (await gw.ref(LogSyncBackup, session).tokens()) as string[];
  t.is(afterRetries.filter((tk) => tk === "first").length, 1, "the forgotten call ran once");
  t.is(afterRetries.filter((tk) => tk === "kept").length, 1, "the remembered call ran once");

  // The successor knows what was forgotten too: it takes the actor over from its backup copy.
  await a.crash();
  await waitFor(() => gw.locate(session).owner === "b" && !gw.view.members.some((m) => m.id === "a"), 10_000, "b to take the session over");
  await t.throwsAsync(call(first, "first"), { instanceOf: CallOutcomeUnknownError }, "refused by the successor");
  const tokens = (await gw.ref(LogSyncBackup, session).tokens()) as string[];
  t.is(tokens.filter((tk) => tk === "first").length, 1);
  t.is(tokens.length, 66, "everything acknowledged survived the failover");
});

/** Answers every change with a large value (like a cart answering with the whole cart). */
const BigAnswers = defineActor("big-answers", {
  state: () => ({ tokens: [] as string[] }),
  backup: sync({ backups: 1 }),
  handlers: {
    add(ctx, token: string) {
      ctx.state.tokens.push(token);
      return { n: ctx.state.tokens.length, pad: "x".repeat(10_000) };
    },
  },
  queries: { tokens: (ctx) => ctx.state.tokens },
});

test("outcomes are kept within a size bound: a large answer is remembered for its retry, the oldest are forgotten (refused, not run twice), on the owner and on its successor", async (t) => {
  t.timeout(60_000);
  const nodes = await clusterNodes(t, { count: 3, cluster: uniqueCluster(), urls: nats.urls, actors: [BigAnswers], ids: ["a", "b", "gw"], roles: ["worker", "worker", "gateway"] });
  const [a, , gw] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  let k = 0;
  while (gw.locate(`big${k}`).owner !== "a") k++;
  const session = `big${k}`;
  let n = 0;
  const call = caller(gw, BigAnswers.name, session, "add");
  // Ids made 1 ms apart, as callers one after another make them.
  const t0 = Date.now();
  const ids = Array.from({ length: 20 }, (_, i) => makeCallId("test", n++, t0 + i));
  for (let i = 0; i < ids.length; i++) t.like(await call(ids[i] as string, `t${i}`), { n: i + 1 });
  const last = ids[ids.length - 1] as string;
  t.like(await call(last, "t19"), { n: 20 }, "the latest answer (10 kB) is remembered");
  // 20 answers of 10 kB do not fit MAX_OUTCOME_CHARS: all but the last MIN_KEPT_OUTCOMES (16) are forgotten, and refused.
  await t.throwsAsync(call(ids[0] as string, "t0"), { instanceOf: CallOutcomeUnknownError });

  await a.crash();
  await waitFor(() => gw.locate(session).owner === "b" && !gw.view.members.some((m) => m.id === "a"), 10_000, "b to take the session over");
  t.like(await call(last, "t19"), { n: 20 }, "the successor remembers the latest answer too");
  await t.throwsAsync(call(ids[0] as string, "t0"), { instanceOf: CallOutcomeUnknownError }, "and refuses the forgotten one");
  const tokens = (await gw.ref(BigAnswers, session).tokens()) as string[];
  t.deepEqual(tokens, Array.from({ length: 20 }, (_, i) => `t${i}`), "every call ran exactly once");
});
