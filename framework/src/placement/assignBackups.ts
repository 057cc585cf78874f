import { boundedAssign, capsFor } from "./boundedAssign.js";
import type { CarriedTable } from "./carryOver.js";
import { firstBackupCounts } from "./firstBackupCounts.js";
import { fmix32 } from "./rendezvousKeys.js";

/** What `assignBackups` needs: the new owners, and the previous table to stay close to. */
export interface BackupInput {
  /** Rendezvous keys, `keys[p * n + i]`. */
  readonly keys: Float64Array;
  readonly weights: Float64Array;
  readonly loadFactor: number;
  /** The new owner of each partition (member index). */
  readonly owner: Int32Array;
  /** Each member's load in the new table. */
  readonly load: Int32Array;
  /** The previous table in the new member indexes, or null for a first table. */
  readonly previous: CarriedTable | null;
  /** Backups per partition: min(backups option, N − 1). */
  readonly width: number;
  /** A 32-bit hash of each member id, for tie-breaks. */
  readonly seeds: Uint32Array;
}

/**
 * The backups of every partition, `width` per partition, first backup first.
 *
 * First backups, owner by owner: `firstBackupCounts` decides how many of owner X's partitions
 * each other member backs up first (an even spread, within headroom), a member keeps the
 * partitions it already holds (previous backups, then the previous owner) up to its count,
 * its best-ranked ones first, and the rest go to the members with room left by bounded
 * rendezvous assignment (each partition to its best-ranked member with room).
 *
 * Further backups: the partition's previous backups (and previous owner) that are still
 * members and not yet chosen, in their previous order, then the best-ranked other members.
 *
 * @returns member indexes, `width` per partition
 * @example assignBackups({ keys, weights, loadFactor: 1.15, owner, load, previous: null, width: 1, seeds }) // Uint16Array(P)
 */
export function assignBackups(input: BackupInput): Uint16Array {
  const { keys, weights, loadFactor, owner, load, previous, width, seeds } = input;
  const partitions = owner.length;
  const n = weights.length;
  const backup = new Uint16Array(partitions * width);
  if (width === 0) return backup;

  // The members that hold each partition's state already and may back it up: its previous
  // backups, then its previous owner — those still in the view and not its new owner.
  const holdersOf = (p: number): number[] => {
    const out: number[] = [];
    if (previous === null) return out;
    const add = (m: number): void => {
      if (m >= 0 && m !== owner[p] && !out.includes(m)) out.push(m);
    };
    for (let k = 0; k < previous.width; k++) add(previous.backups[p * previous.width + k] as number);
    add(previous.owner[p] as number);
    return out;
  };
  const holders = Array.from({ length: partitions }, (_, p) => holdersOf(p));

  const ownedBy: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < partitions; p++) (ownedBy[owner[p] as number] as number[]).push(p);
  let total = 0;
  for (const w of weights) total += w;

  // True if m was p's first backup in the previous table.
  const isFirst = (p: number, m: number): boolean => previous !== null && previous.width > 0 && previous.backups[p * previous.width] === m;
  const first = new Int32Array(partitions).fill(-1);
  const kept = new Int32Array(n);
  const firm = new Int32Array(n);
  const tie = new Uint32Array(n);
  for (let x = 0; x < n; x++) {
    const mine = ownedBy[x] as number[];
    if (mine.length === 0) continue;
    // Candidates to keep: each partition's first holder; firm if it is the first backup already.
    const byHolder: number[][] = Array.from({ length: n }, () => []);
    firm.fill(0);
    for (const p of mine) {
      const h = (holders[p] as number[])[0];
      if (h === undefined) continue;
      (byHolder[h] as number[]).push(p);
      if (isFirst(p, h)) firm[h] = (firm[h] as number) + 1;
    }
    for (let i = 0; i < n; i++) {
      kept[i] = (byHolder[i] as number[]).length;
      tie[i] = fmix32(((seeds[x] as number) ^ Math.imul(seeds[i] as number, 0x9e3779b1)) >>> 0);
    }
    const count = firstBackupCounts({
      owner: x,
      owned: mine.length,
      weights,
      total,
      capWithout: capsFor(weights, loadFactor, partitions, x),
      lowerWithout: lowerWithout(weights, loadFactor, partitions, x),
      load,
      kept,
      firm,
      tie,
    });
    // Keep up to `count` per holder: its first backups before promotions, best-ranked first.
    const room = Int32Array.from(count);
    for (let i = 0; i < n; i++) {
      const list = byHolder[i] as number[];
      if (list.length > (room[i] as number)) {
        list.sort((a, b) => Number(isFirst(b, i)) - Number(isFirst(a, i)) || (keys[a * n + i] as number) - (keys[b * n + i] as number) || a - b);
      }
      for (const p of list) {
        if ((room[i] as number) === 0) break;
        first[p] = i;
        room[i] = (room[i] as number) - 1;
      }
    }
    // The rest: bounded rendezvous assignment to the members with room left.
    const free = mine.filter((p) => first[p] === -1);
    if (free.length === 0) continue;
    const cols: number[] = [];
    for (let i = 0; i < n; i++) if ((room[i] as number) > 0) cols.push(i);
    const k = cols.length;
    const sub = new Float64Array(free.length * k);
    const best = new Int32Array(free.length);
    for (let r = 0; r < free.length; r++) {
      const p = free[r] as number;
      for (let c = 0; c < k; c++) {
        sub[r * k + c] = keys[p * n + (cols[c] as number)] as number;
        if ((sub[r * k + c] as number) < (sub[r * k + (best[r] as number)] as number)) best[r] = c;
      }
    }
    const caps = Int32Array.from(cols, (i) => room[i] as number);
    const chosen = boundedAssign({ keys: sub, members: k, partitions: free.length, caps, excluded: -1, first: best });
    for (let r = 0; r < free.length; r++) first[free[r] as number] = cols[chosen[r] as number] as number;
  }

  for (let p = 0; p < partitions; p++) {
    const row = p * width;
    backup[row] = first[p] as number;
    let filled = 1;
    const taken = (m: number): boolean => {
      if (m === owner[p]) return true;
      for (let s = 0; s < filled; s++) if (backup[row + s] === m) return true;
      return false;
    };
    for (const h of holders[p] as number[]) {
      if (filled === width) break;
      if (!taken(h)) backup[row + filled++] = h;
    }
    while (filled < width) {
      let best = -1;
      for (let m = 0; m < n; m++) {
        if (!taken(m) && (best < 0 || (keys[p * n + m] as number) < (keys[p * n + best] as number))) best = m;
      }
      backup[row + filled++] = best;
    }
  }
  return backup;
}

/**
 * Each member's `Shares.lower` in the view without member x, ⌊P·wᵢ/Σw′/c⌋, computed exactly as
 * `sharesOf` will compute it for that view (Σw′ summed in index order, skipping x).
 */
function lowerWithout(weights: Float64Array, loadFactor: number, partitions: number, x: number): Int32Array {
  let rest = 0;
  for (let i = 0; i < weights.length; i++) if (i !== x) rest += weights[i] as number;
  return Int32Array.from(weights, (w, i) => (i === x ? 0 : Math.floor((partitions * w) / rest / loadFactor)));
}
