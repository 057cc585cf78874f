import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ConfigError, PayloadTooLargeError } from "../../errors.js";
import { clusterReplicas } from "../../membership/NatsStores.js";
import { encodeEntry, encodeMarker, encodePieces, ENTRY_HEADER_BYTES, isValidEpoch, isValidKind, isValidSeq, MAX_NODE_CHARS } from "./codec.js";
import { EventLogClosedError, EventLogUnavailableError, InvalidLogEntryError } from "./errors.js";
import { PartitionFold, type RawMessage } from "./fold.js";
import { LatencyWindow } from "./latency.js";
import { JetStreamPublisher } from "./publisher.js";
import { Histogram, LATENCY_BUCKETS } from "../../metrics/Histogram.js";
import { readFiltered } from "./reader.js";
import { ReadScheduler } from "./readScheduler.js";
import { errorText, isTransient, retryDelay, sleep } from "./retry.js";
import { ensureStream } from "./stream.js";
import {
  actorSubject,
  checkActor,
  checkPartition,
  encodeActorId,
  isValidCluster,
  markerSubject,
  partitionFilter,
  streamName,
  streamSubjects,
} from "./subjects.js";
import type { EventLog, EventLogOptions, EventLogStats, LogEntry, StoredEntry, TakeoverMarker } from "./types.js";

/** A partition read keeps at most this many actors; more are skipped, logged and counted in `truncatedReads`. */
export const MAX_ACTORS_PER_READ = 100_000;
const DEFAULT_APPEND_TIMEOUT_MS = 10_000;
const DEFAULT_READ_TIMEOUT_MS = 30_000;
/** This many partitions waiting to be read are served by one pass over the whole stream (see ReadScheduler). */
const BATCH_MIN = 8;
/** Filtered (one-partition) reads in flight at most. */
const MAX_FILTERED_READS = 8;
/** One publish attempt waits this long for its ack before it is repeated (same message id). */
const ATTEMPT_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000;
/** Bytes a message's headers take besides the message id (`NATS/1.0\r\nNats-Msg-Id: …\r\n\r\n`). */
const HEADER_OVERHEAD = 32;
/** What a piece's message keeps free besides its part of the payload: piece header, message id (≤ ~1.5 KB: a 256-character id of 4-byte characters, base64url) and headers. */
const PIECE_MARGIN = 2_048;

/**
 * Opens (creating if needed) the cluster's event log: the JetStream stream `berth_<cluster>_log`.
 *
 * @example
 * ```ts
 * const log = await openEventLog(nc, { cluster: "shop", log: logger });
 * await log.append({ kind: "snapshot", actorType: "cart", actorId: "s-42", partition: 7, epoch: 3, seq: 1, payload });
 * const actors = await log.readPartition(7); // Map<"cart/s-42", StoredEntry[]>
 * ```
 */
export async function openEventLog(nc: NatsConnection, options: EventLogOptions): Promise<EventLog> {
  const { cluster } = options;
  if (!isValidCluster(cluster)) throw new ConfigError(`event log: cluster name must match [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(cluster)}`);
  const replicas = options.replicas ?? clusterReplicas(nc);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new ConfigError(`event log: replicas must be an integer from 1 to 5, got ${replicas}`);
  const maxEntriesPerActor = options.maxEntriesPerActor ?? 64;
  if (!Number.isInteger(maxEntriesPerActor) || maxEntriesPerActor < 1 || maxEntriesPerActor > 100_000) {
    throw new ConfigError(`event log: maxEntriesPerActor must be an integer from 1 to 100000, got ${maxEntriesPerActor}`);
  }
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE_MS;
  if (!Number.isInteger(maxAge) || maxAge < 1_000) throw new ConfigError(`event log: maxAge must be at least 1000 ms, got ${maxAge}`);
  const jsm = await jetstreamManager(nc, { timeout: 5_000 });
  const name = streamName(cluster);
  const info = await ensureStream(jsm, { name, subjects: streamSubjects(cluster), replicas, maxEntriesPerActor, maxAgeMs: maxAge }, options.log);
  options.log.debug({ stream: name, replicas: info.config.num_replicas, maxEntriesPerActor }, "event log open");
  const readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  if (!Number.isInteger(readTimeoutMs) || readTimeoutMs < 100) throw new ConfigError(`event log: readTimeoutMs must be at least 100 ms, got ${readTimeoutMs}`);
  return new NatsEventLog(nc, jsm, cluster, options.log, readTimeoutMs, info.config.num_replicas > 1, info.config.max_msgs_per_subject > 0 ? info.config.max_msgs_per_subject : maxEntriesPerActor);
}

/** The event log on a JetStream stream. See `EventLog` for the contract and `openEventLog` to get one. */
export class NatsEventLog implements EventLog {
  private readonly stream: string;
  private readonly prefix: string;
  private readonly latency = new LatencyWindow();
  private readonly durations = new Histogram(LATENCY_BUCKETS);
  private readonly counters = { appends: 0, appendRetries: 0, appendFailures: 0, malformed: 0, bytesAppended: 0, fenced: 0, truncatedReads: 0 };
  private closed = false;
  /** The most pieces one entry may take (a quarter of the per-actor retention). */
  private readonly maxPieces: number;
  readonly messagesBetweenSnapshots: number;
  private readonly scheduler: ReadScheduler<Map<string, StoredEntry[]>>;
  private readonly publisher: JetStreamPublisher;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly cluster: string,
    private readonly log: Logger,
    private readonly readTimeoutMs = DEFAULT_READ_TIMEOUT_MS,
    private readonly replicated = true,
    /** The stream's max_msgs_per_subject. */
    private readonly entriesPerActor = 64,
  ) {
    this.maxPieces = Math.max(1, Math.floor(entriesPerActor / 4));
    this.messagesBetweenSnapshots = Math.max(1, Math.floor(entriesPerActor / 2));
    this.stream = streamName(cluster);
    this.publisher = new JetStreamPublisher(nc);
    this.prefix = `berth.${cluster}.log.`;
    this.scheduler = new ReadScheduler({
      batchMin: BATCH_MIN,
      maxFiltered: MAX_FILTERED_READS,
      readOne: (p) => this.readOnePartition(p),
      readMany: (ps) => this.readWholeStream(ps),
      copy: (m) => new Map([...m].map(([k, v]) => [k, [...v]])),
    });
  }

  async append(entry: LogEntry, options?: { timeoutMs?: number }): Promise<{ streamSeq: number }> {
    if (!isValidKind(entry.kind)) throw new InvalidLogEntryError(`kind must be "delta", "snapshot" or "tombstone", got ${JSON.stringify(entry.kind)}`);
    checkActor(entry.actorType, entry.actorId);
    checkPartition(entry.partition);
    if (!isValidEpoch(entry.epoch)) throw new InvalidLogEntryError(`epoch must be a non-negative safe integer, got ${String(entry.epoch)}`);
    if (!isValidSeq(entry.seq)) throw new InvalidLogEntryError(`seq must be a safe integer >= 1, got ${String(entry.seq)}`);
    if (!(entry.payload instanceof Uint8Array)) throw new InvalidLogEntryError("payload must be a Uint8Array");
    const encodedId = encodeActorId(entry.actorId);
    const msgID = `${entry.actorType}:${encodedId}:${entry.epoch}:${entry.seq}`;
    const subject = actorSubject(this.cluster, entry.partition, entry.actorType, entry.actorId);
    const what = `${entry.kind} ${entry.actorType}/${entry.actorId} seq ${entry.seq}`;
    const started = performance.now();
    let ack: { streamSeq: number };
    if (ENTRY_HEADER_BYTES + entry.payload.length + msgID.length + HEADER_OVERHEAD <= this.limit()) {
      ack = await this.publish(subject, encodeEntry(entry), msgID, what, options?.timeoutMs);
    } else {
      // Too large for one message: pieces, published back to back (one turn, in order); each is
      // retried on its own with its own message id, so they may land in any order (reads join them).
      const n = this.messagesFor(entry.payload.length);
      if (entry.kind === "tombstone" || !Number.isFinite(n)) {
        this.counters.appendFailures++;
        throw new PayloadTooLargeError(this.maxPieces * this.partBytes(), entry.payload.length, `log entry of ${entry.actorType}/${entry.actorId} (at most ${this.maxPieces} pieces of ${this.partBytes()} bytes; maxEntriesPerActor / 4)`);
      }
      const pieces = encodePieces(entry, this.partBytes());
      const acks = await Promise.all(pieces.map((body, x) => this.publish(subject, body, `${msgID}:p${x}`, `${what} piece ${x + 1} of ${pieces.length}`, options?.timeoutMs)));
      ack = { streamSeq: Math.max(...acks.map((a) => a.streamSeq)) }; // where the entry is whole
    }
    const ms = performance.now() - started;
    this.latency.add(ms);
    this.durations.observe(ms / 1000);
    this.counters.appends++;
    this.counters.bytesAppended += entry.payload.length;
    return ack;
  }

  async markTakeover(marker: TakeoverMarker, options?: { timeoutMs?: number }): Promise<{ streamSeq: number }> {
    checkPartition(marker.partition);
    if (!isValidEpoch(marker.epoch)) throw new InvalidLogEntryError(`marker epoch must be a non-negative safe integer, got ${String(marker.epoch)}`);
    if (typeof marker.node !== "string" || marker.node.length === 0 || marker.node.length > MAX_NODE_CHARS) {
      throw new InvalidLogEntryError(`marker node must be a string of 1 to ${MAX_NODE_CHARS} characters`);
    }
    const body = encodeMarker(marker.epoch, marker.node);
    return this.publish(markerSubject(this.cluster, marker.partition), body, `marker:${marker.partition}:${marker.epoch}`, `takeover marker of partition ${marker.partition} epoch ${marker.epoch}`, options?.timeoutMs);
  }

  async readPartition(partition: number): Promise<Map<string, StoredEntry[]>> {
    checkPartition(partition);
    this.checkOpen();
    return this.scheduler.read(partition);
  }

  /** `readPartition` for many partitions at once (a failover): one pass over the stream when there are 8 or more. */
  async readPartitions(partitions: Iterable<number>): Promise<Map<number, Map<string, StoredEntry[]>>> {
    const list = [...new Set(partitions)];
    for (const p of list) checkPartition(p);
    this.checkOpen();
    const results = await Promise.all(list.map((p) => this.scheduler.read(p)));
    return new Map(list.map((p, i) => [p, results[i] ?? new Map<string, StoredEntry[]>()]));
  }

  /** One partition through a consumer filtered on `berth.<cluster>.log.<partition>.>`. */
  private async readOnePartition(partition: number): Promise<Map<string, StoredEntry[]>> {
    let fold = new PartitionFold(this.prefix, partition, MAX_ACTORS_PER_READ);
    await readFiltered(this.readOptions(partitionFilter(this.cluster, partition)), () => {
      fold = new PartitionFold(this.prefix, partition, MAX_ACTORS_PER_READ);
      return (m) => fold.add(m);
    });
    this.account(fold, partition);
    return fold.result();
  }

  /** Many partitions in one pass over the whole stream, skipping the others' messages by their partition token. */
  private async readWholeStream(partitions: readonly number[]): Promise<Map<number, Map<string, StoredEntry[]>>> {
    const wanted = new Set(partitions);
    let folds = new Map<number, PartitionFold>();
    const prefixLength = this.prefix.length;
    await readFiltered(this.readOptions(undefined), () => {
      folds = new Map(partitions.map((p) => [p, new PartitionFold(this.prefix, p, MAX_ACTORS_PER_READ)]));
      return (m) => {
        const dot = m.subject.indexOf(".", prefixLength);
        const token = m.subject.slice(prefixLength, dot < 0 ? undefined : dot);
        const p = Number(token);
        if (token.length === 0 || token.length > 5 || !wanted.has(p)) return; // another partition's, or no partition at all
        folds.get(p)?.add(m);
      };
    });
    const out = new Map<number, Map<string, StoredEntry[]>>();
    for (const [p, fold] of folds) {
      this.account(fold, p);
      out.set(p, fold.result());
    }
    return out;
  }

  async readActor(actorType: string, actorId: string, partition: number): Promise<StoredEntry[]> {
    checkActor(actorType, actorId);
    checkPartition(partition);
    // Two small reads (the partition's markers, the actor's entries; each capped by
    // max_msgs_per_subject) merged in stream order, rather than the whole partition.
    const collect = (filter: string): Promise<RawMessage[]> => {
      let out: RawMessage[] = [];
      return readFiltered(this.readOptions(filter), () => {
        out = [];
        return (m) => out.push({ subject: m.subject, streamSeq: m.streamSeq, data: m.data });
      }).then(() => out);
    };
    const [markers, entries] = await Promise.all([collect(markerSubject(this.cluster, partition)), collect(actorSubject(this.cluster, partition, actorType, actorId))]);
    const merged = [...markers, ...entries].sort((a, b) => a.streamSeq - b.streamSeq);
    const fold = new PartitionFold(this.prefix, partition, 1);
    for (const m of merged) fold.add(m);
    this.account(fold, partition);
    return fold.result().get(`${actorType}/${actorId}`) ?? [];
  }

  async purgeActor(actorType: string, actorId: string, partition: number, options?: { before?: number; timeoutMs?: number }): Promise<void> {
    checkActor(actorType, actorId);
    checkPartition(partition);
    const filter = actorSubject(this.cluster, partition, actorType, actorId);
    const timeoutMs = options?.timeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.checkOpen();
      try {
        await this.jsm.streams.purge(this.stream, options?.before === undefined ? { filter } : { filter, seq: options.before });
        return;
      } catch (error) {
        const wait = retryDelay(attempt);
        if (!isTransient(error) || Date.now() + wait >= deadline) throw new EventLogUnavailableError(`the purge of ${actorType}/${actorId}`, timeoutMs, attempt, { cause: error });
        await sleep(wait);
      }
    }
  }

  stats(): EventLogStats {
    return { ...this.counters, appendLatencyP50Ms: round(this.latency.quantile(0.5)), appendLatencyP99Ms: round(this.latency.quantile(0.99)), appendDurations: this.durations.snapshot() };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.publisher.close();
  }

  /** Publishes with a message id, repeating the same message through elections and timeouts until the deadline. */
  private async publish(subject: string, body: Uint8Array, msgID: string, what: string, timeoutMs = DEFAULT_APPEND_TIMEOUT_MS): Promise<{ streamSeq: number }> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) {
        this.counters.appendFailures++;
        throw new EventLogClosedError();
      }
      const remaining = deadline - Date.now();
      try {
        return { streamSeq: await this.publisher.publish(subject, body, msgID, Math.max(50, Math.min(ATTEMPT_TIMEOUT_MS, remaining))) };
      } catch (error) {
        lastError = error;
        if (!isTransient(error)) {
          this.counters.appendFailures++;
          throw new EventLogUnavailableError(what, timeoutMs, attempt, { cause: error });
        }
      }
      const wait = retryDelay(attempt);
      if (Date.now() + wait >= deadline) {
        this.counters.appendFailures++;
        this.log.warn({ err: lastError, subject, attempts: attempt }, "event log append gave up");
        throw new EventLogUnavailableError(what, timeoutMs, attempt, { cause: lastError });
      }
      this.counters.appendRetries++;
      if (attempt === 1) this.log.debug({ subject, err: errorText(lastError) }, "event log append failed; retrying with the same message id");
      await sleep(wait);
    }
  }

  messagesFor(payloadBytes: number): number {
    if (ENTRY_HEADER_BYTES + payloadBytes + PIECE_MARGIN <= this.limit()) return 1;
    const n = Math.ceil(payloadBytes / this.partBytes());
    return n <= this.maxPieces ? n : Number.POSITIVE_INFINITY;
  }

  /** The server's max_payload. */
  private limit(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Payload bytes per piece. */
  private partBytes(): number {
    return this.limit() - PIECE_MARGIN;
  }

  private checkOpen(): void {
    if (this.closed) throw new EventLogClosedError();
  }

  private readOptions(filter: string | undefined) {
    this.checkOpen();
    return { nc: this.nc, jsm: this.jsm, stream: this.stream, filter, replicated: this.replicated, timeoutMs: this.readTimeoutMs, closed: () => this.closed };
  }

  private account(fold: PartitionFold, partition: number): void {
    this.counters.malformed += fold.malformed;
    this.counters.fenced += fold.fenced;
    if (fold.malformed > 0) this.log.warn({ stream: this.stream, partition, malformed: fold.malformed, first: fold.firstProblem }, "skipped malformed messages in the event log");
    if (fold.dropped > 0) {
      this.counters.truncatedReads++;
      this.log.error({ stream: this.stream, partition, maxActors: MAX_ACTORS_PER_READ, skippedEntries: fold.dropped }, "partition read hit the actor cap; the actors beyond it were not recovered");
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
