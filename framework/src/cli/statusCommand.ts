import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { NatsDirectory, NatsViewStore } from "../membership/NatsStores.js";
import type { NodeRecord, View } from "../membership/types.js";
import { createLogger } from "../node/logger.js";
import { tableOfView } from "../membership/codec.js";
import { connectNats } from "../transport/nats/connectNats.js";
import { credentialsFromUrls } from "../transport/nats/urlCredentials.js";
import { addNatsAuthOptions, natsAuthFrom, type NatsAuth, type NatsAuthFlags } from "./natsAuth.js";
import { resolveNatsUrls } from "./natsUrls.js";

/** One member as `berth status` reports it. */
export interface MemberStatus {
  readonly id: string;
  readonly roles: readonly string[];
  /** up, joining, leaving… from the node's record; `down` for a record of a node no longer in the view. */
  readonly state: string;
  readonly inView: boolean;
  readonly pid: number | null;
  readonly host: string | null;
  readonly partitions: number;
  readonly actors: number | null;
  /**
   * Partitions this node is moving or recovering right now (from its record, at most ~2 s old);
   * null when its record predates the current view (it has not reported on the new view's moves yet).
   */
  readonly moving: number | null;
  /** Moves this node started, finished and aborted since it started (as the receiving side). */
  readonly moves: { readonly started: number; readonly finished: number; readonly aborted: number } | null;
  /**
   * Rates over the node's last record interval (~5 s): calls run, deltas replicated and
   * replication bytes sent, per second; and the replication lag (ms). Null for nodes that do not report them.
   */
  readonly rates: { readonly calls: number; readonly deltas: number; readonly bytes: number; readonly lagMs: number } | null;
  /** ms since the node last wrote its record. */
  readonly updatedAgoMs: number | null;
  /** The inter-node protocol version of its record; null without a record. */
  readonly protocol: number | null;
}

/** What `berth status --json` prints. */
export interface ClusterStatus {
  readonly cluster: string;
  readonly nats: readonly string[];
  readonly epoch: number;
  readonly members: readonly MemberStatus[];
}

/** Reads the view and node records of a cluster. */
export async function readStatus(urls: string[], cluster: string, auth: NatsAuth = {}): Promise<ClusterStatus> {
  const nc = await connectNats({ servers: urls, name: "berth-status", ...auth });
  try {
    const log = createLogger({ level: "silent" });
    let view: View;
    let records: Map<string, NodeRecord>;
    try {
      const views = await NatsViewStore.bind(nc, cluster, log);
      const directory = await NatsDirectory.bind(nc, cluster, log);
      if (views === null) throw new ConfigError(`no cluster named "${cluster}" on ${urls.join(", ")} (no view stored yet): is a node running?`);
      view = (await views.read())?.view ?? { epoch: 0, members: [], table: null };
      records = new Map<string, NodeRecord>((await directory?.list())?.map((r) => [r.id, r]) ?? []);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // Connected, yet the buckets do not answer: the JetStream server holding them is down or
      // has no quorum (on nats-server < 2.9.21 the view has one replica, on one server).
      const why = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`connected to NATS, but cluster "${cluster}"'s view and node records did not answer (${why}): a NATS server holding them may be down, or its JetStream has no quorum; nodes keep serving meanwhile. Try again once every NATS server is back (each one's /healthz answers ok).`);
    }
    const workers = view.members.filter((m) => m.roles.includes("worker"));
    const table = tableOfView(view);
    const now = Date.now();
    const ids = [...new Set([...view.members.map((m) => m.id), ...records.keys()])].sort();
    const members = ids.map((id): MemberStatus => {
      const m = view.members.find((x) => x.id === id);
      const r = records.get(id);
      return {
        id,
        roles: m?.roles ?? r?.roles ?? [],
        state: m ? (r?.state ?? "unknown") : "down",
        inView: m !== undefined,
        pid: r?.pid ?? null,
        host: r?.host ?? null,
        partitions: m && workers.includes(m) && table ? table.ownedBy(id).length : 0,
        actors: r?.stats?.actors ?? null,
        // A record written at an older view says nothing about the moves the current one started.
        moving: r?.stats?.epoch === view.epoch ? (r.stats.moving ?? null) : null,
        moves: r?.stats?.movesStarted === undefined ? null : { started: r.stats.movesStarted, finished: r.stats.movesFinished ?? 0, aborted: r.stats.movesAborted ?? 0 },
        rates:
          r?.stats?.deltasPerSec === undefined
            ? null
            : { calls: r.stats.callsPerSec ?? 0, deltas: r.stats.deltasPerSec, bytes: r.stats.replicationBytesPerSec ?? 0, lagMs: r.stats.replicationLagMs ?? 0 },
        updatedAgoMs: r ? now - r.updated : null,
        protocol: r?.protocol ?? null,
      };
    });
    return { cluster, nats: credentialsFromUrls(urls).servers, epoch: view.epoch, members }; // never print a password from a URL
  } finally {
    await nc.close();
  }
}

/** `berth status`: the view and, per member, role, state, pid, partitions owned and actors active. */
export function registerStatus(program: Command): void {
  const command = program
    .command("status")
    .description("show a cluster's view: epoch, and per member its role, state, pid, partitions, actors, partitions in motion, and call, delta and replication byte rates")
    .option("--nats <urls>", "NATS server URLs (default: $NATS_URL or the berth dev cluster of this folder)");
  addNatsAuthOptions(command)
    .option("--cluster <name>", "cluster name", "berth")
    .option("--json", "print JSON", false)
    .action(async (opts: { nats?: string; cluster: string; json: boolean } & NatsAuthFlags) => {
      const status = await readStatus(resolveNatsUrls(opts.nats), opts.cluster, natsAuthFrom(opts));
      if (opts.json) {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      console.log(`cluster ${status.cluster}  epoch ${status.epoch}  members ${status.members.filter((m) => m.inView).length}  (${status.nats.join(", ")})`);
      const rows = status.members.map((m) => [
        m.id,
        m.roles.join("+"),
        m.state,
        String(m.pid ?? "-"),
        m.host ?? "-",
        String(m.partitions),
        String(m.actors ?? "-"),
        String(m.moving ?? "-"),
        m.moves ? `${m.moves.started}/${m.moves.finished}/${m.moves.aborted}` : "-",
        m.rates ? String(m.rates.calls) : "-",
        m.rates ? String(m.rates.deltas) : "-",
        m.rates ? bytesText(m.rates.bytes) : "-",
        m.rates ? `${m.rates.lagMs}ms` : "-",
        m.updatedAgoMs === null ? "-" : `${(m.updatedAgoMs / 1000).toFixed(1)}s ago`,
      ]);
      printTable(["ID", "ROLE", "STATE", "PID", "HOST", "PARTITIONS", "ACTORS", "MOVING", "MOVES S/F/A", "CALLS/S", "DELTAS/S", "REPL/S", "LAG", "UPDATED"], rows);
      const mixed = mixedProtocols(status.members);
      if (mixed !== null) console.log(`\n!! ${mixed}`);
    });
}

/**
 * A warning when the live members speak more than one inter-node protocol (two Berth versions
 * whose nodes refuse each other's frames), else null.
 */
export function mixedProtocols(members: readonly MemberStatus[]): string | null {
  const live = members.filter((m) => m.inView && m.protocol !== null);
  if (new Set(live.map((m) => m.protocol)).size <= 1) return null;
  const list = live.map((m) => `${m.id} ${m.protocol}`).join(", ");
  return `members speak different inter-node protocols (${list}): calls and replication between them fail. Run every node of a cluster on one Berth version.`;
}

/** `812 B`, `12.3 kB`, `4.1 MB` (per second in the status table). */
export function bytesText(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
