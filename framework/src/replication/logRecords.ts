import type { Logger } from "pino";
import { keepOutcome } from "../actor/callIds.js";
import type { ActorEntry, ActorRecord } from "../actor/record.js";
import { applyDelta, type Delta } from "../state/delta.js";
import { parse } from "../state/serializer.js";
import { checkRecord } from "../actor/record.js";
import type { StoredEntry } from "./log/index.js";

/**
 * Rebuilds actor records from what the event log holds for a partition: each actor's last
 * snapshot, then its deltas in sequence order (as `readPartition` returns them). Entries that do not decode, or deltas that do not follow
 * on (a gap in the sequence), stop that actor's replay at the last good point.
 */
export function rebuildFromLog(byActor: Map<string, StoredEntry[]>, log: Logger): ActorEntry[] {
  const out: ActorEntry[] = [];
  for (const [key, entries] of byActor) {
    let record: { -readonly [K in keyof ActorRecord]: ActorRecord[K] } | null = null;
    for (const e of entries) {
      try {
        const body = parse(Buffer.from(e.payload).toString("utf8"));
        if (e.kind === "snapshot") {
          record = { ...checkRecord(body), seq: e.seq };
          continue;
        }
        if (e.kind === "tombstone") {
          record = null;
          continue;
        }
        if (record !== null && e.seq <= (record.seq ?? 0)) continue; // held already (the snapshot covers it)
        if (record === null || e.seq !== (record.seq ?? 0) + 1) break; // no base, or a gap
        const d = body as { d?: Delta; tm?: ActorRecord["timers"]; ts?: number; c?: NonNullable<ActorRecord["calls"]>[number]; lu?: number };
        record.state = applyDelta(record.state, d.d ?? []);
        if (d.tm !== undefined) record.timers = d.tm;
        if (d.ts !== undefined) record.timerSeq = d.ts;
        if (d.c !== undefined) {
          const calls = [...(record.calls ?? [])];
          record.callsForgotten = keepOutcome(calls, d.c, record.callsForgotten);
          record.calls = calls;
        }
        if (d.lu !== undefined) record.lastUsed = d.lu;
        record.seq = e.seq;
      } catch (err) {
        log.warn({ err, actor: key, seq: e.seq }, "log entry does not decode; replay of this actor stops here");
        break;
      }
    }
    if (record !== null) {
      const first = entries[0] as StoredEntry;
      out.push({ type: first.actorType, id: first.actorId, record });
    }
  }
  return out;
}
