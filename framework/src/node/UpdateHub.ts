import type { Logger } from "pino";
import { MAX_UPDATE_CHARS, MAX_UPDATES_PER_TURN } from "../actor/Activation.js";
import type { ActorUpdate, Watch } from "../actor/types.js";
import { MalformedMessageError } from "../errors.js";
import { field, FrameReader, toBytes, toText, unpackPayload } from "../transport/wire.js";
import { limitedLog } from "./logger.js";

/**
 * Live updates (`ctx.publish` → `node.watch`) on one node: the watchers of each actor, and the
 * link that carries a turn's updates to the watchers on every node. A standalone node has no
 * link and delivers to its own watchers; a cluster node publishes on one NATS subject per actor
 * and subscribes to the subjects of the actors its watchers watch, so that an update reaches
 * them wherever the actor lives now: after a move or a failover the new owner publishes on the
 * same subject.
 *
 * Frame: "U1" field(type) field(id) field(source) int(first) int(count), then `count` ×
 * field(packed update).
 */

/** How updates leave this node and arrive from others (the cluster's transport). */
export interface UpdateLink {
  publish(topic: string, frame: Uint8Array): void;
  subscribe(topic: string, onFrame: (frame: Uint8Array) => void): () => void;
  readonly maxPayload: number;
}

interface Watcher {
  readonly listener: (update: ActorUpdate<unknown>) => void;
  source: string | null;
  last: number;
}

interface Topic {
  readonly watchers: Set<Watcher>;
  unsubscribe: (() => void) | null;
}

const MAX_SOURCE = 64;

/** The topic of one actor's updates: its id in base64url, so any id makes one subject token. */
export function updateTopic(typeName: string, id: string): string {
  return `u.${typeName}.${Buffer.from(id, "utf8").toString("base64url")}`;
}

export class UpdateHub {
  private readonly topics = new Map<string, Topic>();
  private link: UpdateLink | null = null;
  private closed = false;
  /** Frames from the wire that failed validation (dropped). */
  malformed = 0;
  private readonly logMalformed: (fields: Record<string, unknown>) => void;
  private readonly logListener: (fields: Record<string, unknown>) => void;

  constructor(private readonly log: Logger) {
    this.logMalformed = limitedLog(log, "warn", "malformed live update dropped");
    this.logListener = limitedLog(log, "warn", "a watcher threw; it keeps watching");
  }

  /** From now on updates travel over `link` (a cluster node's transport). */
  connect(link: UpdateLink): void {
    this.link = link;
  }

  watch(typeName: string, id: string, listener: (update: ActorUpdate<unknown>) => void): Watch {
    if (this.closed) return { stop: () => undefined };
    const key = updateTopic(typeName, id);
    let topic = this.topics.get(key);
    if (topic === undefined) {
      const created: Topic = { watchers: new Set(), unsubscribe: null };
      this.topics.set(key, (topic = created));
      created.unsubscribe = this.link?.subscribe(key, (frame) => this.onFrame(typeName, id, created, frame)) ?? null;
    }
    const watcher: Watcher = { listener, source: null, last: 0 };
    topic.watchers.add(watcher);
    const owner = topic;
    return {
      stop: () => {
        if (!owner.watchers.delete(watcher) || owner.watchers.size > 0) return;
        owner.unsubscribe?.();
        if (this.topics.get(key) === owner) this.topics.delete(key);
      },
    };
  }

  /** A turn's confirmed updates, from an actor on this node. */
  publish(typeName: string, id: string, source: string, first: number, packed: readonly string[]): void {
    if (this.closed) return;
    const key = updateTopic(typeName, id);
    if (this.link === null) {
      const topic = this.topics.get(key);
      // Later, as from the wire: a watcher never runs inside the turn that published.
      if (topic !== undefined) queueMicrotask(() => this.deliver(topic, source, first, packed));
      return;
    }
    const text = `U1${field(typeName)}${field(id)}${field(source)}${first}:${packed.length}:${packed.map(field).join("")}`;
    this.link.publish(key, toBytes(text, this.link.maxPayload, `live updates of ${typeName}/${id}`));
  }

  /** Stops every watch (the node stops). */
  close(): void {
    this.closed = true;
    for (const t of this.topics.values()) t.unsubscribe?.();
    this.topics.clear();
  }

  private onFrame(typeName: string, id: string, topic: Topic, frame: Uint8Array): void {
    let source: string;
    let first: number;
    const packed: string[] = [];
    try {
      const r = new FrameReader(toText(frame, this.link?.maxPayload ?? frame.length, "live update", "U1"), 2, "live update");
      if (r.str(64, "type") !== typeName || r.str(256, "id") !== id) throw new MalformedMessageError("live update: its actor is not its subject's");
      source = r.str(MAX_SOURCE, "source");
      first = r.int(Number.MAX_SAFE_INTEGER, "first");
      const count = r.int(MAX_UPDATES_PER_TURN, "count");
      if (first < 1 || count < 1) throw new MalformedMessageError("live update: first and count must be at least 1");
      for (let i = 0; i < count; i++) packed.push(r.str(MAX_UPDATE_CHARS, "update"));
      if (!r.done) throw new MalformedMessageError("live update: bytes after its last update");
    } catch (err) {
      this.malformed++;
      this.logMalformed({ err, actor: typeName, id });
      return;
    }
    this.deliver(topic, source, first, packed);
  }

  private deliver(topic: Topic, source: string, first: number, packed: readonly string[]): void {
    for (const w of [...topic.watchers]) {
      // Each watcher gets its own copies: one that changes what it received changes nothing for another.
      let values: unknown[];
      try {
        values = packed.map((p) => unpackPayload(p, 0, "live update"));
      } catch (err) {
        this.malformed++;
        this.logMalformed({ err });
        return;
      }
      const missed = w.source !== null && (w.source !== source || first !== w.last + 1);
      w.source = source;
      w.last = first + packed.length - 1;
      values.forEach((data, i) => {
        if (!topic.watchers.has(w)) return;
        try {
          w.listener({ data, missed: missed && i === 0 });
        } catch (err) {
          this.logListener({ err });
        }
      });
    }
  }
}
