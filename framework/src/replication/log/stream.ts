import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { errorText, retryDelay, sleep } from "./retry.js";

export interface StreamLimits {
  readonly name: string;
  readonly subjects: string;
  readonly replicas: number;
  readonly maxEntriesPerActor: number;
  readonly maxAgeMs: number;
}

const DUPLICATE_WINDOW_MS = 120_000;
/** How long opening waits for JetStream to answer (a cluster that has just started elects its meta leader first). */
const OPEN_TIMEOUT_MS = 20_000;

function configOf(limits: StreamLimits, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: limits.name,
    subjects: [limits.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: limits.maxEntriesPerActor,
    max_age: nanos(limits.maxAgeMs),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  };
}

/** "insufficient resources", "no suitable peers for placement", "replicas > 1 not supported in non-clustered mode". */
function isPlacementError(error: unknown): boolean {
  return /insufficient resources|no suitable peers|replicas > 1 not supported|10005|10023|10074/i.test(errorText(error));
}

function isNameInUse(error: unknown): boolean {
  return /already in use|10058/i.test(errorText(error));
}

/**
 * Creates the log's stream, or adopts an existing one (updating its retention limits to
 * these options; its replica count is kept). R3 that cannot be placed falls back to R1 with a
 * warning. Transient failures (no JetStream leader yet) are retried for up to 20 s.
 */
export async function ensureStream(jsm: JetStreamManager, limits: StreamLimits, log: Logger): Promise<StreamInfo> {
  const deadline = Date.now() + OPEN_TIMEOUT_MS;
  let replicas = limits.replicas;
  for (let attempt = 1; ; attempt++) {
    try {
      return await jsm.streams.add(configOf(limits, replicas));
    } catch (error) {
      if (isNameInUse(error)) return adopt(jsm, limits, log);
      if (replicas > 1 && isPlacementError(error)) {
        log.warn({ err: error, stream: limits.name, replicas }, "could not place a replicated event log stream; using one replica (entries are lost if that NATS server's disk is)");
        replicas = 1;
        continue;
      }
      if (Date.now() + retryDelay(attempt) >= deadline) throw error;
      log.debug({ err: error, stream: limits.name }, "JetStream not ready for the event log stream; retrying");
      await sleep(Math.max(retryDelay(attempt), 200));
    }
  }
}

async function adopt(jsm: JetStreamManager, limits: StreamLimits, log: Logger): Promise<StreamInfo> {
  const info = await jsm.streams.info(limits.name);
  const c = info.config;
  const want = configOf(limits, c.num_replicas);
  if (c.max_msgs_per_subject === want.max_msgs_per_subject && c.max_age === want.max_age && c.duplicate_window === want.duplicate_window && c.subjects.includes(limits.subjects)) return info;
  log.info({ stream: limits.name, maxEntriesPerActor: limits.maxEntriesPerActor, maxAgeMs: limits.maxAgeMs }, "updating the event log stream's limits");
  return jsm.streams.update(limits.name, { ...c, ...want, subjects: [limits.subjects] });
}
