import { InvalidLogEntryError } from "./errors.js";

/**
 * Names in the event log's stream:
 *   stream   berth_<cluster>_log
 *   entries  berth.<cluster>.log.<partition>.<type>.<base64url(id)>
 *   markers  berth.<cluster>.log.<partition>._m
 * An actor type starts with a letter, so `_m` never names an actor.
 */

export const MAX_PARTITION = 65_535;
export const MAX_ACTOR_ID = 256;
const TYPE_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const CLUSTER_RE = /^[A-Za-z0-9_-]{1,64}$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const MARKER_TOKEN = "_m";
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function isValidCluster(cluster: string): boolean {
  return CLUSTER_RE.test(cluster);
}

export function streamName(cluster: string): string {
  return `berth_${cluster}_log`;
}

export function streamSubjects(cluster: string): string {
  return `berth.${cluster}.log.>`;
}

export function partitionFilter(cluster: string, partition: number): string {
  return `berth.${cluster}.log.${partition}.>`;
}

export function markerSubject(cluster: string, partition: number): string {
  return `berth.${cluster}.log.${partition}.${MARKER_TOKEN}`;
}

export function actorSubject(cluster: string, partition: number, actorType: string, actorId: string): string {
  return `berth.${cluster}.log.${partition}.${actorType}.${encodeActorId(actorId)}`;
}

export function encodeActorId(actorId: string): string {
  return Buffer.from(actorId, "utf8").toString("base64url");
}

/** The actor id in a subject token, or null unless it is the canonical encoding of a valid id. */
export function decodeActorId(token: string): string | null {
  if (token.length === 0 || token.length > 1024 || !B64URL_RE.test(token)) return null;
  const bytes = Buffer.from(token, "base64url");
  if (bytes.toString("base64url") !== token) return null;
  let id: string;
  try {
    id = utf8.decode(bytes);
  } catch {
    return null;
  }
  return id.length >= 1 && id.length <= MAX_ACTOR_ID ? id : null;
}

export function isValidPartition(p: unknown): p is number {
  return typeof p === "number" && Number.isInteger(p) && p >= 0 && p <= MAX_PARTITION;
}

export function checkPartition(p: unknown): number {
  if (!isValidPartition(p)) throw new InvalidLogEntryError(`partition must be an integer from 0 to ${MAX_PARTITION}, got ${String(p)}`);
  return p;
}

export function isValidActorType(t: unknown): t is string {
  return typeof t === "string" && TYPE_RE.test(t);
}

export function isValidActorId(id: unknown): id is string {
  return typeof id === "string" && id.length >= 1 && id.length <= MAX_ACTOR_ID && !LONE_SURROGATE_RE.test(id);
}

export function checkActor(actorType: unknown, actorId: unknown): void {
  if (!isValidActorType(actorType)) throw new InvalidLogEntryError(`actorType must match [A-Za-z][A-Za-z0-9_-]{0,63}, got ${JSON.stringify(actorType)}`);
  if (!isValidActorId(actorId)) throw new InvalidLogEntryError(`actorId must be a well-formed string of 1 to ${MAX_ACTOR_ID} characters`);
}

/** What a subject of the stream names: an actor's entry, a partition's marker, or nothing valid. */
export type ParsedSubject =
  | { readonly kind: "entry"; readonly partition: number; readonly actorType: string; readonly actorId: string }
  | { readonly kind: "marker"; readonly partition: number }
  | null;

/** Parses a subject of the stream (`prefix` = `berth.<cluster>.log.`); null when it is not one Berth writes. */
export function parseSubject(subject: string, prefix: string): ParsedSubject {
  if (!subject.startsWith(prefix)) return null;
  const rest = subject.slice(prefix.length).split(".");
  const [p, second, third] = rest;
  if (p === undefined || second === undefined || !/^(0|[1-9][0-9]{0,4})$/.test(p)) return null;
  const partition = Number(p);
  if (partition > MAX_PARTITION) return null;
  if (rest.length === 2) return second === MARKER_TOKEN ? { kind: "marker", partition } : null;
  if (rest.length !== 3 || third === undefined || !TYPE_RE.test(second)) return null;
  const actorId = decodeActorId(third);
  if (actorId === null) return null;
  return { kind: "entry", partition, actorType: second, actorId };
}
