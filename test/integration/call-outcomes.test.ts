import test from "ava";
import { CallOutcomeUnknownError, type ClusterNode } from "berth";
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

test("a retry whose outcome the actor forgot is refused, not run twice — also after a failover; a retry it remembers is answered, a new call runs", async (t) => {
  t.timeout(60_000);
  const nodes = await clusterNodes(t, { count: 3, cluster: uniqueCluster(), urls: nats.urls, actors: [LogSyncBackup], ids: ["a", "b", "gw"], roles: ["worker", "worker", "gateway"] });
  const [a, , gw] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  let k = 0;
  while (gw.locate(`s${k}`).owner !== "a") k++;
  const session = `s${k}`;
  let n = 0;
  const call = (callId: string, token: string): Promise<unknown> => {
    const owner = gw.locate(session).owner as string;
    const req: CallRequest = { callId, actorType: LogSyncBackup.name, actorId: session, method: "append", args: [token], ttlMs: 5_000, epoch: gw.view.epoch, from: gw.id };
    return sendCall(gw.transport, owner, req);
  };
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
