import { NoWorkersError } from "../errors.js";
import type { PartitionTable } from "./types.js";

/**
 * A `PartitionTable` stored as member indexes in typed arrays: one slot per partition for the
 * owner and `width` slots for its backups, plus per-member partition lists (CSR): 4·P·(1 + width)
 * bytes, 768 KiB for P = 65536 with 2 backups. Built by `computeTable`, `rebalance` and `decodeTable`;
 * not constructed directly.
 */
export class IndexedPartitionTable implements PartitionTable {
  readonly members: readonly string[];
  readonly #index: ReadonlyMap<string, number>;
  readonly #owner: Uint16Array;
  readonly #backups: Uint16Array;
  readonly #width: number;
  readonly #owned: MemberLists;
  readonly #backedUp: MemberLists;

  /**
   * @param members the sorted member ids
   * @param owner the owner's member index per partition (length P, or 0 with no members)
   * @param backups `width` backup member indexes per partition, first backup first
   * @example new IndexedPartitionTable(1, 4, ["a"], new Uint16Array(4), new Uint16Array(0), 0)
   */
  constructor(
    readonly epoch: number,
    readonly partitions: number,
    members: readonly string[],
    owner: Uint16Array,
    backups: Uint16Array,
    width: number,
  ) {
    this.members = Object.freeze([...members]);
    this.#index = new Map(members.map((id, i) => [id, i]));
    this.#owner = owner;
    this.#backups = backups;
    this.#width = width;
    this.#owned = memberLists(owner, members.length);
    this.#backedUp = memberLists(backups, members.length, width);
  }

  ownerOf(partition: number): string {
    this.#check(partition);
    if (this.members.length === 0) throw new NoWorkersError(partition, this.epoch);
    return this.members[this.#owner[partition] as number] as string;
  }

  backupsOf(partition: number): readonly string[] {
    this.#check(partition);
    const out: string[] = [];
    for (let k = 0; k < this.#width; k++) out.push(this.members[this.#backups[partition * this.#width + k] as number] as string);
    return out;
  }

  ownedBy(nodeId: string): readonly number[] {
    return listOf(this.#owned, this.#index.get(nodeId));
  }

  backedUpBy(nodeId: string): readonly number[] {
    return listOf(this.#backedUp, this.#index.get(nodeId));
  }

  #check(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new RangeError(`partition ${String(partition)} is out of range: expected an integer from 0 to ${this.partitions - 1}`);
    }
  }
}

/** Partitions per member, ascending: member i's are `list[start[i] .. start[i+1])`. */
interface MemberLists {
  readonly start: Uint32Array;
  readonly list: Uint16Array;
}

/** Groups the partitions of `slots` (`width` member indexes per partition) by member. */
function memberLists(slots: Uint16Array, members: number, width = 1): MemberLists {
  const start = new Uint32Array(members + 1);
  for (const m of slots) start[m + 1] = (start[m + 1] as number) + 1;
  for (let i = 0; i < members; i++) start[i + 1] = (start[i + 1] as number) + (start[i] as number);
  const fill = start.slice(0, members);
  const list = new Uint16Array(slots.length); // partitions ≤ 65536, so indexes fit
  // Slots are partition-major, so each member's list comes out ascending.
  for (let s = 0; s < slots.length; s++) {
    const m = slots[s] as number;
    list[fill[m] as number] = Math.floor(s / width);
    fill[m] = (fill[m] as number) + 1;
  }
  return { start, list };
}

function listOf(lists: MemberLists, member: number | undefined): number[] {
  if (member === undefined) return [];
  return Array.from(lists.list.subarray(lists.start[member], lists.start[member + 1]));
}
