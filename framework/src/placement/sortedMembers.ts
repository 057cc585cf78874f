import { ConfigError } from "../errors.js";
import type { PlacementMember } from "./types.js";

/**
 * A view's members sorted by id (UTF-16 code units, locale-free), validated: the order every
 * table's member indexes refer to.
 * @throws ConfigError for an empty or duplicate id, or a capacity that is not a finite number > 0
 * @example sortedMembers([{ id: "b" }, { id: "a", capacity: 2 }]) // [{ id: "a", capacity: 2 }, { id: "b" }]
 */
export function sortedMembers(members: readonly PlacementMember[]): PlacementMember[] {
  if (!Array.isArray(members)) throw new ConfigError("placement: view.members must be an array of { id, capacity? }");
  if (members.length > 65536) throw new ConfigError(`placement: at most 65536 members; got ${members.length}`);
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i] as PlacementMember;
    if (typeof m.id !== "string" || m.id.length === 0) {
      throw new ConfigError(`placement: every member needs a non-empty string id; got ${JSON.stringify(m.id)}`);
    }
    if (i > 0 && (sorted[i - 1] as PlacementMember).id === m.id) {
      throw new ConfigError(`placement: duplicate member id "${m.id}"; node ids must be unique in a view`);
    }
    if (m.capacity !== undefined && !(typeof m.capacity === "number" && Number.isFinite(m.capacity) && m.capacity > 0)) {
      throw new ConfigError(`placement: capacity of member "${m.id}" must be a finite number > 0 (default 1); got ${String(m.capacity)}`);
    }
  }
  return sorted;
}
