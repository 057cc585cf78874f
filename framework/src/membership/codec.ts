import { MalformedMessageError } from "../errors.js";
import { decodeObject, num, str } from "../transport/wire.js";
import { decodeTable, type EncodedTable, type PartitionTable } from "../placement/index.js";
import type { Heartbeat, Member, NodeRecord, NodeState, Role, View } from "./types.js";

/**
 * Encoding and validation of everything membership sends or stores. Anything that fails
 * validation throws `MalformedMessageError`; callers count it and ignore the message.
 */

const LIMIT = 256 * 1024;
const ROLES: readonly Role[] = ["worker", "gateway"];
const STATES: readonly NodeState[] = ["starting", "joining", "up", "leaving", "down"];
const MAX_MEMBERS = 1024;
/**
 * The highest view epoch accepted: far above any real cluster's (one per membership change),
 * far enough below `MAX_SAFE_INTEGER` that the next epoch can always be proposed. A view
 * claiming more is unreadable (and repaired), a heartbeat claiming more is malformed.
 */
export const MAX_EPOCH = 2 ** 40;
const encoder = new TextEncoder();

export function encodeJson(value: object): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function member(o: Record<string, unknown>, what: string): Member {
  const roles = o.roles;
  if (!Array.isArray(roles) || roles.length === 0 || roles.length > 2 || !roles.every((r) => ROLES.includes(r as Role))) {
    throw new MalformedMessageError(`${what}.roles must be a list of ${ROLES.join("/")}`);
  }
  return {
    id: str(o, "id", 128, what),
    roles: roles as Role[],
    capacity: num(o, "capacity", 0.001, 1000, what),
    incarnation: str(o, "incarnation", 64, what),
    ...(o.leaving === true ? { leaving: true } : {}),
  };
}

export function decodeView(bytes: Uint8Array): View {
  const o = decodeObject(bytes, LIMIT, "view");
  const members = o.members;
  if (!Array.isArray(members) || members.length > MAX_MEMBERS) throw new MalformedMessageError(`view.members must be a list of at most ${MAX_MEMBERS}`);
  const parsed = members.map((m, i) => {
    if (typeof m !== "object" || m === null) throw new MalformedMessageError(`view.members[${i}] must be an object`);
    return member(m as Record<string, unknown>, `view.members[${i}]`);
  });
  const ids = new Set(parsed.map((m) => m.id));
  if (ids.size !== parsed.length) throw new MalformedMessageError("view.members has duplicate ids");
  const view: View = {
    epoch: num(o, "epoch", 0, MAX_EPOCH, "view"),
    members: sortMembers(parsed),
    table: o.table === null || o.table === undefined ? null : (o.table as EncodedTable),
  };
  tableOfView(view); // validates the table against the members
  return view;
}

/** The members a view's table places partitions on: workers that are not leaving. */
export function placedMembers(members: readonly Member[]): Member[] {
  return members.filter((m) => m.roles.includes("worker") && m.leaving !== true);
}

/** The ids of `placedMembers`. */
export function workerIds(members: readonly Member[]): string[] {
  return placedMembers(members).map((m) => m.id);
}

/**
 * The decoded partition table of a view, or null when it has none. Throws
 * `MalformedMessageError` when the table does not fit the view's workers.
 */
export function tableOfView(view: View): PartitionTable | null {
  const workers = workerIds(view.members);
  if (view.table === null) {
    if (workers.length > 0) throw new MalformedMessageError("view has workers but no partition table");
    return null;
  }
  return decodeTable(view.table, workers);
}

export function decodeRecord(bytes: Uint8Array): NodeRecord {
  const o = decodeObject(bytes, LIMIT, "node record");
  const state = o.state;
  if (!STATES.includes(state as NodeState)) throw new MalformedMessageError(`node record state must be one of ${STATES.join(", ")}`);
  const stats = o.stats;
  let parsedStats: NodeRecord["stats"];
  if (stats !== undefined) {
    if (typeof stats !== "object" || stats === null) throw new MalformedMessageError("node record stats must be an object");
    const s: Record<string, number> = {};
    for (const [k, v] of Object.entries(stats as Record<string, unknown>).slice(0, 64)) if (typeof v === "number" && Number.isFinite(v)) s[k] = v;
    parsedStats = { actors: s.actors ?? 0, partitions: s.partitions ?? 0, epoch: s.epoch ?? 0, ...s };
  }
  const record: NodeRecord = {
    ...member(o, "node record"),
    state: state as NodeState,
    pid: num(o, "pid", 0, 2 ** 31, "node record"),
    host: str(o, "host", 256, "node record"),
    started: num(o, "started", 0, Number.MAX_SAFE_INTEGER, "node record"),
    updated: num(o, "updated", 0, Number.MAX_SAFE_INTEGER, "node record"),
    ...(typeof o.http === "string" && o.http.length <= 256 ? { http: o.http } : {}),
    protocol: o.protocol === undefined ? 1 : num(o, "protocol", 1, 1_000_000, "node record"),
    ...(parsedStats ? { stats: parsedStats } : {}),
  };
  return record;
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  const o = decodeObject(bytes, 4096, "heartbeat");
  const state = o.state;
  if (!STATES.includes(state as NodeState)) throw new MalformedMessageError("heartbeat state is invalid");
  return {
    id: str(o, "id", 128, "heartbeat"),
    incarnation: str(o, "incarnation", 64, "heartbeat"),
    epoch: num(o, "epoch", 0, MAX_EPOCH, "heartbeat"),
    state: state as NodeState,
  };
}

/** Whether two views list the same members (ids, roles, capacities and incarnations). */
export function sameMembers(a: readonly Member[], b: readonly Member[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((m, i) => {
    const o = b[i] as Member;
    return m.id === o.id && m.incarnation === o.incarnation && m.capacity === o.capacity && m.roles.join() === o.roles.join() && (m.leaving === true) === (o.leaving === true);
  });
}

/** Members sorted by id (the canonical order of a view). */
export function sortMembers(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
