import test from "ava";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { createNode } from "berth";
import { mixedProtocols, readStatus, type MemberStatus } from "../../framework/src/cli/statusCommand.js";
import { WIRE_PROTOCOL } from "../../framework/src/transport/wire.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";

/**
 * Nodes of two Berth versions whose inter-node protocols differ cannot serve one cluster (each
 * refuses the other's frames). A node that finds such a member in the directory says so, once,
 * naming it — instead of leaving the operator with replication errors to decode.
 */

const nats = natsForFile("single");

test("a node names a member that speaks another inter-node protocol, once, and not one that speaks its own", async (t) => {
  t.timeout(30_000);
  const cluster = uniqueCluster();
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  const node = await createNode({ actors: [], nats: { servers: nats.urls }, cluster, id: "new-1", roles: ["gateway"], logger });
  t.teardown(() => node.stop());
  const raw = await connect({ servers: nats.urls });
  t.teardown(() => raw.close());
  const record = (id: string, extra: object): Uint8Array =>
    new TextEncoder().encode(JSON.stringify({ id, roles: ["worker"], capacity: 1, incarnation: `${id}-i`, state: "up", pid: 1, host: "h", started: 1, updated: Date.now(), ...extra }));
  // An older node's record has no protocol field (version 1); a current one has WIRE_PROTOCOL.
  raw.publish(`$KV.berth_${cluster}_nodes.old-1`, record("old-1", {}));
  raw.publish(`$KV.berth_${cluster}_nodes.same-1`, record("same-1", { protocol: WIRE_PROTOCOL }));
  await raw.flush();
  const warnings = (): Array<{ member: string; memberProtocol: number; msg: string }> =>
    lines.map((l) => JSON.parse(l) as { member?: string; memberProtocol: number; msg: string }).filter((l): l is { member: string; memberProtocol: number; msg: string } => typeof l.member === "string" && / speaks inter-node protocol /.test(l.msg));
  const end = Date.now() + 15_000;
  while (warnings().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2_500)); // another refresh of the records: no second warning
  const seen = warnings();
  t.is(seen.length, 1, JSON.stringify(seen));
  t.is(seen[0]?.member, "old-1");
  t.is(seen[0]?.memberProtocol, 1);
  t.regex(seen[0]?.msg ?? "", /Run every node of a cluster on one Berth version/);
  // `berth status` reports each record's protocol.
  const status = await readStatus(nats.urls, cluster);
  t.is(status.members.find((m) => m.id === "old-1")?.protocol, 1);
  t.is(status.members.find((m) => m.id === "new-1")?.protocol, WIRE_PROTOCOL);
});

test("berth status warns when the members in the view speak more than one protocol", (t) => {
  const member = (id: string, protocol: number | null, inView = true): MemberStatus => ({ id, roles: ["worker"], state: "up", inView, pid: 1, host: "h", partitions: 0, actors: 0, moving: 0, moves: null, rates: null, updatedAgoMs: 0, protocol });
  t.is(mixedProtocols([member("a", 2), member("b", 2), member("c", null)]), null);
  t.is(mixedProtocols([member("a", 2), member("gone", 1, false)]), null, "a record of a node no longer in the view does not count");
  t.regex(mixedProtocols([member("a", 2), member("b", 1)]) ?? "", /different inter-node protocols \(a 2, b 1\).*one Berth version/);
});
