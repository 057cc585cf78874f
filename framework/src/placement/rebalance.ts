import { assignBackups } from "./assignBackups.js";
import { boundedAssign, capsFor } from "./boundedAssign.js";
import { carryOver, type CarriedTable } from "./carryOver.js";
import { fillUnderloaded } from "./fillUnderloaded.js";
import { IndexedPartitionTable } from "./IndexedPartitionTable.js";
import { ownershipOf, type Ownership } from "./ownership.js";
import { hash64 } from "./partition.js";
import { placeOrphans } from "./placeOrphans.js";
import { placementInputs } from "./placementInputs.js";
import { sharesOf } from "./sharesOf.js";
import { shedOverloaded } from "./shedOverloaded.js";
import type { PartitionTable, PlacementOptions, PlacementView } from "./types.js";

/**
 * The partition table of a new cluster view, computed from the previous table: placement is
 * stored and incremental. The node that changes the view runs this and writes the result into
 * the view (compare-and-set), so every node uses the identical table by construction.
 * Rendezvous ranking (`rendezvousKeys`) guides every choice, under bounded load.
 *
 * Owners, in this order:
 * 1. Every partition keeps its owner if the owner is still a member.
 * 2. Orphans (owner gone) go to their first backup if it is a member with room under its cap,
 *    else the next such backup, else the best-ranked member with room.
 * 3. A member far under its share (fewer than ⌊P·wᵢ/(c·Σw)⌋, e.g. a newcomer) is filled up to
 *    ⌊P·wᵢ/Σw⌋ from the most-loaded members, with the partitions it ranks highest.
 * 4. A member over its cap ⌈c·P·wᵢ/Σw⌉ sheds the excess to members under their share.
 * Only steps 2–4 move partitions, and each moves the minimum. A join moves ⌊P/(N+1)⌋
 * partitions to the newcomer (equal weights); a single removal moves only the leaver's
 * partitions, each to its first backup: the first backups are chosen so that they always
 * have room (see `firstBackupCounts`).
 *
 * Backups (`assignBackups`): each owner's first backups are spread evenly over the other
 * members (⌊|X|/(N−1)⌋ or ⌈|X|/(N−1)⌉ each, for equal weights), within each member's
 * headroom under the cap of the view without the owner; existing backups are kept where
 * these rules allow. Further backups are kept too, then the next-ranked members.
 *
 * With `previous === null`, a previous table of another partition count, or no member in
 * common, the result is a fresh table: bounded rendezvous assignment under the cap ⌈P·wᵢ/Σw⌉
 * (so loads are as even as possible), members under ⌊P·wᵢ/Σw⌋ filled up to it, backups as
 * above. With no members the table is empty (`ownerOf` throws `NoWorkersError`).
 *
 * Deterministic: the same previous table, member set (in any order) and options give the
 * same table. Cost for P = 1024, N = 32: a few milliseconds, mostly the O(P·N) keys.
 *
 * @param previous the table of the previous view, or null for the first view
 * @param view the new epoch and live worker nodes
 * @param options `partitions` (default 1024), `backups` (default 1), `loadFactor` (default 1.15);
 *   the same on every node and for every view
 * @throws ConfigError for invalid options, an invalid epoch, or an empty, duplicate or badly
 *   weighted member id
 * @example
 * ```ts
 * const t1 = rebalance(null, { epoch: 1, members: [{ id: "n1" }, { id: "n2" }, { id: "n3" }] });
 * const t2 = rebalance(t1, { epoch: 2, members: [{ id: "n1" }, { id: "n2" }, { id: "n3" }, { id: "n4" }] });
 * diffTables(t1, t2).length; // ⌊1024/4⌋ = 256, every move to "n4"
 * const t3 = rebalance(t2, { epoch: 3, members: [{ id: "n1" }, { id: "n3" }, { id: "n4" }] });
 * diffTables(t2, t3).every((m) => m.from === "n2" && m.to === t2.backupsOf(m.partition)[0]); // true
 * ```
 */
export function rebalance(previous: PartitionTable | null, view: PlacementView, options?: Partial<PlacementOptions>): PartitionTable {
  const inputs = placementInputs(view, options);
  if (!("keys" in inputs)) return inputs; // no members: the empty table
  const { partitions, backups, loadFactor, ids, weights, keys } = inputs;
  const n = ids.length;
  const shares = sharesOf(weights, partitions, loadFactor);
  let carried: CarriedTable | null = null;
  if (previous !== null && previous.partitions === partitions && previous.members.length > 0) {
    carried = carryOver(previous, ids);
    if (carried.common === 0) carried = null;
  }

  let own: Ownership;
  if (carried === null) {
    // Fresh: the tightest bounded assignment, then the few members it left short filled up.
    const owner = boundedAssign({ keys, members: n, partitions, caps: capsFor(weights, 1, partitions, -1), excluded: -1, first: bestMembers(keys, n, partitions) });
    own = ownershipOf(owner, n);
    fillUnderloaded(own, keys, weights, shares.floor, shares.floor);
  } else {
    own = ownershipOf(Int32Array.from(carried.owner), n);
    placeOrphans(own, carried.backups, carried.width, keys, shares.cap);
    fillUnderloaded(own, keys, weights, shares.lower, shares.floor);
  }
  shedOverloaded(own, keys, weights, shares.cap, shares.target);

  const width = Math.min(backups, n - 1);
  const seeds = Uint32Array.from(ids, (id) => Number(hash64(id) & 0xffffffffn));
  const backup = assignBackups({ keys, weights, loadFactor, owner: own.owner, load: own.load, previous: carried, width, seeds });
  return new IndexedPartitionTable(view.epoch, partitions, ids, Uint16Array.from(own.owner), backup, width);
}

/** Each partition's best-ranked member (ties: lower index). */
function bestMembers(keys: Float64Array, n: number, partitions: number): Int32Array {
  const best = new Int32Array(partitions);
  for (let p = 0; p < partitions; p++) {
    let b = 0;
    for (let m = 1; m < n; m++) if ((keys[p * n + m] as number) < (keys[p * n + b] as number)) b = m;
    best[p] = b;
  }
  return best;
}
