import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { decodeRecord, decodeView, encodeJson } from "./codec.js";
import type { NodeDirectory, NodeRecord, StoredView, View, ViewStore } from "./types.js";

const VIEW_KEY = "view";

/** Server version as [major, minor, patch]. */
export function serverVersion(nc: NatsConnection): [number, number, number] {
  const [a, b, c] = (nc.info?.version ?? "0.0.0").split(".").map((x) => Number.parseInt(x, 10) || 0);
  return [a ?? 0, b ?? 0, c ?? 0];
}

/**
 * Compare-and-set is unreliable on replicated (R3) storage before nats-server 2.9.21
 * (nats-server#4320; NATS-NOTES.md trap 1): the view then lives in an R1 bucket. R1 is correct
 * under concurrency but unavailable while the one server holding it is down — membership
 * changes wait for it; serving does not. On ≥ 2.10 the view is replicated like everything else.
 */
export function casIsSafeOnReplicas(nc: NatsConnection): boolean {
  const [major, minor, patch] = serverVersion(nc);
  return major > 2 || (major === 2 && (minor > 9 || (minor === 9 && patch >= 21)));
}

/** Replicas for the cluster's buckets and streams: 3 when NATS is clustered, else 1. */
export function clusterReplicas(nc: NatsConnection): number {
  return nc.info?.cluster ? 3 : 1;
}

/** Opens an existing bucket without creating it; null if it is absent (or the server refuses). */
async function bindBucket(nc: NatsConnection, bucket: string): Promise<KV | null> {
  let kv: KV;
  try {
    kv = await new Kvm(nc).open(bucket, { bindOnly: true });
  } catch {
    return null;
  }
  // bindOnly does not look the stream up: ask for it, so a missing bucket is told apart from one that does not answer.
  try {
    await kv.status();
  } catch (error) {
    if (/stream not found/i.test(error instanceof Error ? error.message : String(error))) return null;
    throw error;
  }
  return kv;
}

async function createBucket(kvm: Kvm, name: string, replicas: number, log: Logger, opts: { history: number; ttl?: number }): Promise<KV> {
  try {
    return await kvm.create(name, { replicas, history: opts.history, ...(opts.ttl ? { ttl: opts.ttl } : {}) });
  } catch (error) {
    if (replicas === 1) throw error;
    // A NATS "cluster" of fewer than 3 servers cannot place R3: fall back, loudly.
    log.warn({ err: error, bucket: name }, "could not create a replicated bucket; using one replica");
    return kvm.create(name, { replicas: 1, history: opts.history, ...(opts.ttl ? { ttl: opts.ttl } : {}) });
  }
}

/** The cluster view in a JetStream KV bucket `berth_<cluster>_view`, changed only by compare-and-set. */
export class NatsViewStore implements ViewStore {
  /** Views that failed validation (written by something that is not Berth). */
  malformed = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  static async open(nc: NatsConnection, cluster: string, log: Logger): Promise<NatsViewStore> {
    const safe = casIsSafeOnReplicas(nc);
    const replicas = safe ? clusterReplicas(nc) : 1;
    if (!safe && clusterReplicas(nc) > 1) {
      log.warn({ version: nc.info?.version }, "nats-server before 2.9.21 cannot compare-and-set on replicated storage; keeping the view in an R1 bucket (upgrade to >= 2.10)");
    }
    const bucket = `berth_${cluster}_view`;
    const kv = await createBucket(new Kvm(nc), bucket, replicas, log, { history: 1 });
    return new NatsViewStore(nc, bucket, kv, log);
  }

  /** Opens the bucket without creating it (for tools such as `berth status`); null if absent. */
  static async bind(nc: NatsConnection, cluster: string, log: Logger): Promise<NatsViewStore | null> {
    const bucket = `berth_${cluster}_view`;
    const kv = await bindBucket(nc, bucket);
    return kv === null ? null : new NatsViewStore(nc, bucket, kv, log);
  }

  async read(): Promise<StoredView | null> {
    const entry = await this.kv.get(VIEW_KEY);
    if (entry === null || entry.operation !== "PUT") return null;
    return this.decode(entry.value, entry.revision);
  }

  async swap(next: View, expected: number | null): Promise<StoredView | null> {
    try {
      const revision = expected === null ? await this.kv.create(VIEW_KEY, encodeJson(next)) : await this.kv.update(VIEW_KEY, encodeJson(next), expected);
      return { view: next, revision };
    } catch (error) {
      if (isWrongRevision(error)) return null;
      throw error;
    }
  }

  /**
   * Calls `onChange` with the stored view whenever it changes. Listens with a core NATS
   * subscription on the key's subject and re-reads the key (coalesced), rather than a KV
   * watch: a JetStream ordered consumer keeps idle-heartbeat timers that outlive a closed
   * connection (they kept test processes from exiting), and the periodic reconcile covers
   * anything a core subscription misses while disconnected.
   */
  watch(onChange: (stored: StoredView) => void): () => void {
    let stopped = false;
    let reading = false;
    let again = false;
    const reread = async (): Promise<void> => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          const stored = await this.read().catch((err: unknown) => {
            this.log.debug({ err }, "view re-read after a change notice failed; periodic reconcile continues");
            return null;
          });
          if (!stopped && stored !== null) onChange(stored);
        } while (again && !stopped);
      } catch (err) {
        // A listener's failure must not end the process as an unhandled rejection (it is a bug; the next change or reconcile tries again).
        this.log.error({ err }, "applying a view change failed");
      } finally {
        reading = false;
      }
    };
    const sub = this.nc.subscribe(`$KV.${this.bucket}.${VIEW_KEY}`, { callback: () => void reread() });
    void reread();
    return () => {
      stopped = true;
      if (!this.nc.isClosed()) sub.unsubscribe();
    };
  }

  private decode(bytes: Uint8Array, revision: number): StoredView {
    try {
      return { view: decodeView(bytes), revision };
    } catch (err) {
      this.malformed++;
      this.log.warn({ err, revision }, "the stored view is unreadable; keeping the last good one until it is repaired");
      return { view: null, revision };
    }
  }

  async close(): Promise<void> {}
}

function isWrongRevision(error: unknown): boolean {
  const m = error instanceof Error ? error.message : String(error);
  return /wrong last sequence|key exists|10071|10164/i.test(m);
}

/** Node records in a KV bucket `berth_<cluster>_nodes`; each node writes only its own key. */
export class NatsDirectory implements NodeDirectory {
  malformed = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  static async open(nc: NatsConnection, cluster: string, log: Logger): Promise<NatsDirectory> {
    // Records of dead nodes age out after an hour; live nodes rewrite theirs every few seconds.
    const bucket = `berth_${cluster}_nodes`;
    const kv = await createBucket(new Kvm(nc), bucket, clusterReplicas(nc), log, { history: 1, ttl: 3_600_000 });
    return new NatsDirectory(nc, bucket, kv, log);
  }

  /** Opens the bucket without creating it; null if absent. */
  static async bind(nc: NatsConnection, cluster: string, log: Logger): Promise<NatsDirectory | null> {
    const bucket = `berth_${cluster}_nodes`;
    const kv = await bindBucket(nc, bucket);
    return kv === null ? null : new NatsDirectory(nc, bucket, kv, log);
  }

  async put(record: NodeRecord): Promise<void> {
    await this.kv.put(record.id, encodeJson(record));
  }

  async remove(id: string): Promise<void> {
    await this.kv.delete(id);
  }

  async list(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    // The keys come from the stream's per-subject counts, not `kv.keys()`: that one runs an
    // ordered consumer whose heartbeat timer can outlive a closed connection.
    const prefix = `$KV.${this.bucket}.`;
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}>` });
    const keys = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
    for (const k of keys) {
      const e = await this.kv.get(k);
      if (e === null || e.operation !== "PUT") continue;
      try {
        out.push(decodeRecord(e.value));
      } catch (err) {
        this.malformed++;
        this.log.warn({ err, key: k }, "ignoring a malformed node record");
      }
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}
