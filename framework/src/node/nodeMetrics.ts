import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { MetricFamily } from "../metrics/exposition.js";
import { strayErrorCount } from "./strayErrors.js";
import type { HistogramSnapshot } from "../metrics/Histogram.js";
import type { EventLogStats } from "../replication/log/index.js";
import type { NodeStats } from "./BerthNode.js";
import type { ClusterStats } from "./ClusterNode.js";

/**
 * A node's figures as Prometheus metric families. Every metric is listed, with its meaning, in
 * docs/guides/metrics.md — keep the two together.
 */

const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "counter", samples: [{ value }] });
const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "gauge", samples: [{ value }] });

/** The actor host's figures (every node, standalone ones included). */
export function hostFamilies(s: NodeStats): MetricFamily[] {
  return [
    gauge("berth_actors_active", "Actors with a live activation on this node.", s.active),
    gauge("berth_actors_passive", "Passivated actors whose state this node keeps.", s.passive),
    counter("berth_activations_total", "Actor activations (new, reactivated, moved or recovered actors).", s.activations),
    counter("berth_passivations_total", "Actors passivated (idle timeout or the active-actor cap).", s.passivations),
    counter("berth_actors_destroyed_total", "Actors deleted (ctx.destroy() or expiry).", s.destroyed),
    counter("berth_timers_fired_total", "Durable timers fired.", s.timersFired),
    counter("berth_timer_errors_total", "Timer handlers that threw.", s.timerErrors),
    counter("berth_duplicate_calls_total", "Retried calls answered from their recorded outcome instead of running again.", s.duplicateCalls),
    ...processFamilies(),
  ];
}

/** How long one event-loop delay window lasts: the figures are those of the last full window. */
const LOOP_WINDOW_MS = 10_000;
let loop: { monitor: IntervalHistogram; since: number; figures: { p50: number; p99: number; max: number } } | undefined;

/**
 * The process's figures under the names Prometheus' Node.js clients use, so that existing
 * dashboards read them: resident memory, heap, CPU, start time, and the event loop's delay
 * (p50, p99 and max over the last full 10 s window; 0 until the first window ends). Several
 * nodes in one process report the same figures.
 */
function processFamilies(): MetricFamily[] {
  const now = Date.now();
  if (loop === undefined) {
    const monitor = monitorEventLoopDelay({ resolution: 10 });
    monitor.enable();
    loop = { monitor, since: now, figures: { p50: 0, p99: 0, max: 0 } };
  } else if (now - loop.since >= LOOP_WINDOW_MS) {
    const h = loop.monitor;
    loop.figures = h.count === 0 ? { p50: 0, p99: 0, max: 0 } : { p50: h.percentile(50) / 1e9, p99: h.percentile(99) / 1e9, max: h.max / 1e9 };
    h.reset();
    loop.since = now;
  }
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const f = loop.figures;
  return [
    gauge("process_resident_memory_bytes", "Resident memory of the process.", mem.rss),
    gauge("nodejs_heap_size_used_bytes", "V8 heap in use.", mem.heapUsed),
    gauge("nodejs_heap_size_total_bytes", "V8 heap allocated.", mem.heapTotal),
    gauge("nodejs_external_memory_bytes", "Memory of buffers and other objects outside the V8 heap.", mem.external),
    counter("process_cpu_seconds_total", "CPU time of the process, user and system.", (cpu.user + cpu.system) / 1e6),
    gauge("process_start_time_seconds", "When the process started (Unix time).", Math.round(performance.timeOrigin / 1000)),
    counter("berth_stray_errors_total", "Errors that escaped an actor's turn (unawaited rejections, throws in callbacks) and were logged instead of ending the process.", strayErrorCount()),
    {
      name: "nodejs_eventloop_delay_seconds",
      help: "Event-loop delay over the last full 10 s window, by quantile (0.5, 0.99) and its maximum (quantile=\"1\").",
      type: "gauge",
      samples: [
        { labels: { quantile: "0.5" }, value: f.p50 },
        { labels: { quantile: "0.99" }, value: f.p99 },
        { labels: { quantile: "1" }, value: f.max },
      ],
    },
  ];
}

/** What a cluster node adds to `hostFamilies`. */
export interface ClusterFigures {
  readonly stats: ClusterStats;
  /** Calls run on this node (local and remote), not counting timers. */
  readonly calls: number;
  /** Frames from other nodes that failed validation and were dropped (batch frames, live updates). */
  readonly malformedDropped: number;
  readonly recoveryDurations: HistogramSnapshot;
  readonly moveDurations: HistogramSnapshot;
  /** The event log's figures, when this node opened it. */
  readonly eventLog: EventLogStats | null;
}

/** The cluster node's figures: calls, placement, moves, recoveries, replication, the event log. */
export function clusterFamilies(f: ClusterFigures): MetricFamily[] {
  const s = f.stats;
  const r = s.replication;
  const families: MetricFamily[] = [
    counter("berth_calls_total", "Calls run on this node (from this node or served for others), timers excluded.", f.calls),
    counter("berth_remote_calls_served_total", "Calls other nodes sent here that were decoded and run.", s.rpc.served),
    counter("berth_call_retries_total", "Call attempts repeated by this node's routing (redirects, unreachable owners, moves).", s.rpc.retries),
    counter("berth_call_redirects_total", "Calls that reached a node not owning the actor and were re-routed.", s.rpc.redirects),
    counter("berth_control_messages_total", "Replication, move and read-mark messages served.", s.rpc.control),
    counter("berth_malformed_messages_total", "Messages from the wire that failed validation (answered with an error or dropped).", s.rpc.malformed + f.malformedDropped),
    gauge("berth_view_epoch", "Epoch of the cluster view this node uses.", s.epoch),
    gauge("berth_cluster_members", "Members in this node's view.", s.members),
    gauge("berth_lease_valid", "1 while this node's membership lease holds (it may serve), else 0.", s.leaseValid ? 1 : 0),
    { name: "berth_node_state", help: "1 for this node's lifecycle state.", type: "gauge", samples: [{ labels: { state: s.state }, value: 1 }] },
    gauge("berth_partitions_owned", "Partitions the table gives this node.", s.partitionsOwned),
    {
      name: "berth_partitions_in_motion",
      help: "Partitions this node is moving or recovering, by state.",
      type: "gauge",
      samples: ["awaiting", "catchingUp", "recovering", "draining", "transferring", "released"].map((state) => ({ labels: { state }, value: s.moves.inMotion[state] ?? 0 })),
    },
    counter("berth_moves_started_total", "Partition pulls from a live previous owner started here.", s.moves.movesStarted),
    counter("berth_moves_finished_total", "Partition pulls finished (the partition serves here).", s.moves.movesFinished),
    counter("berth_moves_aborted_total", "Partition pulls or recoveries abandoned (the view moved the partition again).", s.moves.movesAborted),
    { name: "berth_move_duration_seconds", help: "Duration of finished pulls, from the view change to serving.", type: "histogram", histograms: [{ value: f.moveDurations }] },
    counter("berth_recoveries_total", "Partitions recovered here after their owner died (from backups and the log).", s.moves.recoveries),
    { name: "berth_recovery_duration_seconds", help: "Duration of recoveries, from the first probe to serving.", type: "histogram", histograms: [{ value: f.recoveryDurations }] },
    gauge("berth_call_hold_max_seconds", "Longest time a call waited because its partition was moving or recovering.", s.moves.maxHoldMs / 1000),
    counter("berth_replication_deltas_total", "Committed turns handed to replication (deltas and tombstones).", r.deltas),
    counter("berth_replication_full_records_total", "Full records resent to backups that missed a delta.", r.fullRecords),
    counter("berth_replication_bytes_total", "Bytes sent to backups (encoded messages, resends included) plus payload bytes appended to the event log.", r.bytes),
    counter("berth_replication_sync_failures_total", "Sync turns whose acknowledgements did not arrive in time (their callers got ReplicationError).", r.syncFailures),
    counter("berth_replication_under_replicated_total", "Writes that wanted more backups than the cluster has.", r.underReplicated),
    counter("berth_replication_refused_items_total", "Replication items a backup refused as malformed or too large (a bug): dropped, their actors resent in full.", r.refusedItems),
    gauge("berth_replication_lag_seconds", "Age of the oldest delta not yet confirmed by its backup (0 when all are confirmed).", r.lagMs / 1000),
    gauge("berth_backup_copies", "Hot backup copies of other nodes' actors held here.", r.backupCopies),
    counter("berth_log_appends_total", "Event log appends acknowledged for this node's turns.", r.logAppends),
    counter("berth_log_append_failures_total", "Event log appends of this node's turns that failed.", r.logFailures),
    {
      name: "berth_backup_reads_total",
      help: 'Queries of readFrom: "backup" types issued on this node, by where they were answered.',
      type: "counter",
      samples: [
        { labels: { result: "served" }, value: s.backupReads.served },
        { labels: { result: "not_backup" }, value: s.backupReads.notBackup },
        { labels: { result: "no_copy" }, value: s.backupReads.noCopy },
        { labels: { result: "stale" }, value: s.backupReads.stale },
      ],
    },
    counter("berth_backup_read_marks_total", "Read marks asked of owners for backup reads.", s.backupReads.marks),
  ];
  const log = f.eventLog;
  if (log !== null) {
    families.push(
      { name: "berth_log_append_duration_seconds", help: "Latency of event log appends, from the first attempt to the JetStream acknowledgement.", type: "histogram", histograms: [{ value: log.appendDurations }] },
      counter("berth_log_append_retries_total", "Event log publish attempts repeated (same message id) after a failure or timeout.", log.appendRetries),
      counter("berth_log_bytes_total", "Payload bytes of acknowledged event log appends.", log.bytesAppended),
      counter("berth_log_malformed_entries_total", "Messages on the log's subjects that reads skipped as malformed.", log.malformed),
      counter("berth_log_fenced_entries_total", "Log entries of a deposed owner skipped by reads (takeover fencing).", log.fenced),
    );
  }
  return families;
}
