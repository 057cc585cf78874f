import type { Logger } from "pino";
import type { HistogramSnapshot } from "../../metrics/Histogram.js";

/** One entry of an actor's log. `payload` is opaque to the log (the replication layer encodes records and deltas). */
export interface LogEntry {
  readonly kind: "delta" | "snapshot" | "tombstone";
  /** `[A-Za-z][A-Za-z0-9_-]{0,63}` */
  readonly actorType: string;
  /** Any well-formed string of 1 to 256 characters (base64url-encoded in the subject). */
  readonly actorId: string;
  /** 0..65535 */
  readonly partition: number;
  /** The writer's ownership epoch for the partition (a non-negative safe integer). */
  readonly epoch: number;
  /** Per-actor sequence number, starting at 1. */
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** An entry as read back, with its position in the stream. */
export interface StoredEntry extends LogEntry {
  readonly streamSeq: number;
}

/** `node` owns `partition` from `epoch` on; lower-epoch entries stored after the marker are fenced. */
export interface TakeoverMarker {
  readonly partition: number;
  readonly epoch: number;
  readonly node: string;
}

export interface EventLogStats {
  /** Appends acknowledged by JetStream (duplicates of an earlier append included). */
  appends: number;
  /** Attempts repeated after a failed or timed-out publish (same message id). */
  appendRetries: number;
  /** Appends and markers that gave up (timeout, closed log, oversized payload). */
  appendFailures: number;
  /** Messages on the log's subjects that were not well-formed entries or markers, skipped by reads (counted each time a read meets them). */
  malformed: number;
  /** Over the last 1024 appends, from the first attempt to the acknowledgement. */
  appendLatencyP50Ms: number;
  appendLatencyP99Ms: number;
  /** Every acknowledged append's latency, from the first attempt to the acknowledgement (seconds). */
  appendDurations: HistogramSnapshot;
  /** Payload bytes of acknowledged appends. */
  bytesAppended: number;
  /** Entries skipped by reads because a takeover marker fenced them (a deposed writer's). */
  fenced: number;
  /** Partition reads that hit the actors-per-read cap (see {@link MAX_ACTORS_PER_READ}). */
  truncatedReads: number;
}

export interface EventLog {
  /**
   * Appends and resolves once JetStream acknowledged it. Idempotent: msgID
   * `${type}:${base64url(id)}:${epoch}:${seq}`. Retries (same msgID) through leader elections and
   * timeouts until `timeoutMs` (default 10 s), then rejects with `EventLogUnavailableError`.
   */
  append(entry: LogEntry, options?: { timeoutMs?: number }): Promise<{ streamSeq: number }>;
  /**
   * How many stream messages an entry with `payloadBytes` of payload takes: 1, or the number of
   * pieces a larger one is split into (msgIDs `…:<seq>:p<x>`), or Infinity when it is larger than
   * the log stores (`append` refuses it with PayloadTooLargeError). Pieces count against the
   * stream's per-actor retention like entries.
   */
  messagesFor(payloadBytes: number): number;
  /**
   * The most messages a writer should append for an actor between two snapshots: with the
   * largest entries allowed, the last complete snapshot then stays within the per-actor
   * retention (`maxEntriesPerActor`) while the next one is being written.
   */
  readonly messagesBetweenSnapshots: number;
  /**
   * Records that `node` owns `partition` from `epoch` on. Entries of this partition with a lower
   * epoch that land in the stream AFTER this marker are ignored by every read. Same retry and
   * idempotency rules (msgID `marker:${partition}:${epoch}`).
   */
  markTakeover(marker: TakeoverMarker, options?: { timeoutMs?: number }): Promise<{ streamSeq: number }>;
  /**
   * Everything needed to rebuild a partition: for each actor (key `${type}/${id}`), its valid
   * entries from its latest valid snapshot on (or from its first retained entry if there is
   * none): the snapshot first, then the deltas by seq — not by stream order, since a retried
   * append can land after later ones. Valid = not fenced: entry.epoch >= the highest epoch of
   * the partition's markers with a lower streamSeq. "Latest" and "at or below" compare
   * (epoch, seq), epoch first: a snapshot or tombstone supersedes the entries at or below it
   * wherever they landed (an older epoch's entries after a newer owner's snapshot included). A tombstone ends an actor's history: an actor whose last valid entry is a
   * tombstone is omitted, and entries above a tombstone start a new history. Returned lists
   * never contain tombstones. Malformed messages are skipped and counted.
   */
  readPartition(partition: number): Promise<Map<string, StoredEntry[]>>;
  /**
   * `readPartition` for many partitions (a failover). Concurrent `readPartition` calls are
   * coalesced the same way; this is a convenience that returns them together.
   */
  readPartitions(partitions: Iterable<number>): Promise<Map<number, Map<string, StoredEntry[]>>>;
  /** The same for one actor (empty if it has no live history). */
  readActor(actorType: string, actorId: string, partition: number): Promise<StoredEntry[]>;
  /**
   * Deletes an actor's entries (after its tombstone). With `before`, only those stored before
   * that stream sequence: entries of an actor created again with the same id, appended after the
   * tombstone, must survive a purge that reaches the server late.
   */
  purgeActor(actorType: string, actorId: string, partition: number, options?: { before?: number; timeoutMs?: number }): Promise<void>;
  stats(): EventLogStats;
  /** Stops the log: pending retries and reads end with `EventLogClosedError`. Does not close the connection. */
  close(): Promise<void>;
}

export interface EventLogOptions {
  /** The Berth cluster name: `[A-Za-z0-9_-]{1,64}`. */
  cluster: string;
  /** Default: 3 if the NATS server is clustered else 1, falling back to 1 (with a warning) if R3 cannot be placed. */
  replicas?: number;
  /**
   * Default 64: the stream's max_msgs_per_subject. An entry may take up to a quarter of it in
   * pieces (16 × max_payload, 16 MiB on a default server); writers snapshot every half of it.
   */
  maxEntriesPerActor?: number;
  /** Milliseconds, default 7 days: the stream's max_age. */
  maxAge?: number;
  /** How long a read may take, retries through leader elections included. Default 30 000 ms. */
  readTimeoutMs?: number;
  log: Logger;
}
