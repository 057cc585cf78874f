/**
 * Property tests of placement (DESIGN.md, "Placement"). Exact properties run with fresh
 * random seeds. The statistical ones (moves on add/remove, spread of backups) check bounds
 * that random ids meet with a wide margin, and run with a fixed seed so they cannot flake;
 * each says why its bound is what it is.
 */
import assert from "node:assert/strict";
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import { ConfigError, MalformedMessageError, NoWorkersError } from "../../framework/src/errors.js";
import { boundedAssign, capsFor } from "../../framework/src/placement/boundedAssign.js";
import {
  computeTable,
  decodeTable,
  DEFAULT_PLACEMENT_OPTIONS,
  diffTables,
  encodeTable,
  rebalance,
  type EncodedTable,
  type PartitionTable,
  type PlacementMember,
  type PlacementOptions,
} from "../../framework/src/placement/index.js";
import { rendezvousKeys } from "../../framework/src/placement/rendezvousKeys.js";

const C = DEFAULT_PLACEMENT_OPTIONS.loadFactor;

// ---------------------------------------------------------------------------------------------
// Generators and helpers

const nodeId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 16 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }),
  fc.uuid(),
  fc.nat({ max: 999 }).map((n) => `worker-${n}`),
);
const memberIds = (min: number, max: number) => fc.uniqueArray(nodeId, { minLength: min, maxLength: max });
/** Member ids with a capacity each (undefined = default 1), or all default. */
const weightedMembers = (min: number, max: number) =>
  memberIds(min, max).chain((ids) =>
    fc.oneof(
      fc.constant(ids.map((id): PlacementMember => ({ id }))),
      fc
        .array(fc.option(fc.double({ min: 0.05, max: 20, noNaN: true }), { nil: undefined }), { minLength: ids.length, maxLength: ids.length })
        .map((caps) => ids.map((id, i): PlacementMember => (caps[i] === undefined ? { id } : { id, capacity: caps[i] }))),
    ),
  );
const loadFactor = fc.double({ min: 1, max: 2, noNaN: true });

const view = (members: readonly (string | PlacementMember)[], epoch = 1) => ({
  epoch,
  members: members.map((m) => (typeof m === "string" ? { id: m } : m)),
});
const table = (members: readonly (string | PlacementMember)[], options?: Partial<PlacementOptions>, epoch = 1) =>
  computeTable(view(members, epoch), options);

/** The cap ⌈c·P·wᵢ/Σw⌉ of each member, Σw summed in the table's (sorted) member order. */
function capsOf(members: readonly PlacementMember[], partitions: number, c: number): Map<string, number> {
  const weight = new Map(members.map((m) => [m.id, m.capacity ?? 1]));
  const sorted = [...weight.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let total = 0;
  for (const id of sorted) total += weight.get(id) as number;
  return new Map(sorted.map((id) => [id, Math.ceil((c * partitions * (weight.get(id) as number)) / total)]));
}

function loadsOf(t: PartitionTable): Map<string, number> {
  return new Map(t.members.map((id) => [id, t.ownedBy(id).length]));
}

/** True if no member owns as many partitions as its cap (so the cap changed nothing). */
function capNeverReached(t: PartitionTable, members: readonly PlacementMember[], c: number): boolean {
  const caps = capsOf(members, t.partitions, c);
  return t.members.every((id) => t.ownedBy(id).length < (caps.get(id) as number));
}

/** Runs a property; fast-check throws (with the shrunk counterexample) if it fails. */
function holds<Ts extends [unknown, ...unknown[]]>(t: ExecutionContext, property: fc.IProperty<Ts>, params: fc.Parameters<Ts>): void {
  fc.assert(property, params);
  t.pass();
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------------------------
// 1. Determinism

test("deterministic: the same view, members in any order, gives the same table", (t) => {
  const input = weightedMembers(1, 32).chain((members) =>
    fc.tuple(
      fc.constant(members),
      fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }),
      fc.integer({ min: 1, max: 2048 }),
      fc.integer({ min: 0, max: 3 }),
    ),
  );
  holds(
    t,
    fc.property(input, loadFactor, ([members, shuffled, partitions, backups], c) => {
      const options = { partitions, backups, loadFactor: c };
      const a = computeTable({ epoch: 5, members }, options);
      const b = computeTable({ epoch: 5, members: shuffled.map((m) => ({ ...m })) }, options);
      assert.deepEqual(b.members, a.members);
      assert.deepEqual([...a.members], [...a.members].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      for (let p = 0; p < partitions; p++) {
        assert.equal(b.ownerOf(p), a.ownerOf(p));
        assert.deepEqual(b.backupsOf(p), a.backupsOf(p));
      }
    }),
    { numRuns: 60 },
  );
});

test("deterministic across versions: a pinned table (changing it reshuffles mixed-version clusters)", (t) => {
  const pinned = table(["e", "c", "a", "d", "b"], { partitions: 12, backups: 2 }, 3);
  t.is(pinned.epoch, 3);
  t.deepEqual(range(12).map((p) => pinned.ownerOf(p)), ["d", "b", "e", "c", "c", "a", "c", "b", "e", "d", "b", "e"]);
  t.deepEqual(range(12).map((p) => pinned.backupsOf(p).join("")), ["ac", "de", "ac", "da", "ba", "bc", "ae", "cd", "ad", "ac", "de", "cb"]);
});

// ---------------------------------------------------------------------------------------------
// 2. Rendezvous ranking with bounded load

test("bounded load: no node owns more than ⌈c·P·wᵢ/Σw⌉ partitions, and every partition has an owner", (t) => {
  holds(
    t,
    fc.property(weightedMembers(1, 32), fc.integer({ min: 1, max: 4096 }), loadFactor, (members, partitions, c) => {
      const tbl = computeTable({ epoch: 1, members }, { partitions, loadFactor: c });
      const caps = capsOf(members, partitions, c);
      let owned = 0;
      for (const [id, load] of loadsOf(tbl)) {
        assert.ok(load <= (caps.get(id) as number), `${id} owns ${load} > cap ${caps.get(id)}`);
        owned += load;
      }
      assert.equal(owned, partitions);
      for (let p = 0; p < partitions; p++) assert.ok(caps.has(tbl.ownerOf(p)));
    }),
    { numRuns: 100 },
  );
});

test("owners are the greedy over all (partition, member) pairs by rendezvous key, under the caps", (t) => {
  // The reference: sort every pair by key (ties: partition, then member), give the partition to
  // the member if both are still free. computeTable must produce exactly this matching.
  holds(
    t,
    fc.property(weightedMembers(1, 12), fc.integer({ min: 1, max: 300 }), loadFactor, (members, partitions, c) => {
      const tbl = computeTable({ epoch: 1, members }, { partitions, loadFactor: c, backups: 0 });
      const ids = tbl.members;
      const byId = new Map(members.map((m) => [m.id, m.capacity ?? 1]));
      const weights = Float64Array.from(ids, (id) => byId.get(id) as number);
      const keys = rendezvousKeys(ids, weights, partitions);
      const caps = capsFor(weights, c, partitions, -1);
      const n = ids.length;
      const pairs = range(partitions * n).sort((x, y) => (keys[x] as number) - (keys[y] as number) || x - y);
      const owner = new Array<number>(partitions).fill(-1);
      const load = new Array<number>(n).fill(0);
      for (const e of pairs) {
        const p = Math.floor(e / n);
        const m = e % n;
        if (owner[p] === -1 && (load[m] as number) < (caps[m] as number)) {
          owner[p] = m;
          load[m] = (load[m] as number) + 1;
        }
      }
      for (let p = 0; p < partitions; p++) assert.equal(tbl.ownerOf(p), ids[owner[p] as number]);
      // And boundedAssign on its own agrees, starting from each partition's best member.
      const first = Int32Array.from(range(partitions), (p) => range(n).reduce((b, m) => ((keys[p * n + m] as number) < (keys[p * n + b] as number) ? m : b), 0));
      assert.deepEqual(Array.from(boundedAssign({ keys, members: n, partitions, caps, excluded: -1, first })), owner);
    }),
    { numRuns: 60 },
  );
});

test("weighted rendezvous: with a loose cap (c = 2) each node's share is within 25% of P·wᵢ/Σw", (t) => {
  // c = 2 keeps the cap out of the way, so this checks the ranking itself: a node of
  // capacity w must win about w/Σw of the partitions. Smallest share here is 16384/36 ≈ 455
  // (sd ≈ 20), so ±25% is over 5 sd; ignoring the weights misses it by 2× or more.
  const members = memberIds(2, 12).chain((ids) =>
    fc
      .array(fc.constantFrom(1, 2, 3), { minLength: ids.length, maxLength: ids.length })
      .map((w) => ids.map((id, i): PlacementMember => ({ id, capacity: i === 0 ? 1 : i === 1 ? 3 : (w[i] as number) }))),
  );
  holds(
    t,
    fc.property(members, (ms) => {
      const partitions = 16384;
      const loads = loadsOf(computeTable({ epoch: 1, members: ms }, { partitions, loadFactor: 2 }));
      const total = ms.reduce((sum, m) => sum + (m.capacity as number), 0);
      for (const m of ms) {
        const ratio = (loads.get(m.id) as number) / ((partitions * (m.capacity as number)) / total);
        assert.ok(ratio >= 0.75 && ratio <= 1.25, `${m.id} (capacity ${m.capacity}) owns ${ratio.toFixed(2)}× its share`);
      }
    }),
    { numRuns: 30, seed: 20240615 },
  );
});

// ---------------------------------------------------------------------------------------------
// 3. Balance

test("balance: max/avg partitions per node ≤ 1.25 for N = 2..32, P = 256, 1024, 4096", (t) => {
  holds(
    t,
    fc.property(memberIds(2, 32), fc.constantFrom(256, 1024, 4096), (ids, partitions) => {
      const loads = [...loadsOf(table(ids, { partitions })).values()];
      const ratio = Math.max(...loads) / (partitions / ids.length);
      assert.ok(ratio <= 1.25, `max/avg = ${ratio}`);
    }),
    { numRuns: 100 },
  );
});

// ---------------------------------------------------------------------------------------------
// 4. Adding a node

test("adding a node moves ≈ P/(N+1) partitions: ≤ 1.1× on average, ≤ 1.5× always", (t) => {
  // The newcomer's own share is random (rendezvous wins, bounded by its cap), so no placement
  // of random ids keeps every single join under 1.1×P/(N+1): even plain HRW with no cap
  // exceeds it about 1 time in 10 at P = 256, N = 2. The design target is the average; the
  // per-join bound catches cascades. P = 256 only up to N = 16: with 8 partitions per node the
  // cap's rounding (10 → 9 at N = 32 → 33) forces ~6 extra moves (see computeTable's docs).
  const input = fc
    .constantFrom(256, 1024, 1024, 4096)
    .chain((partitions) => fc.tuple(fc.constant(partitions), memberIds(3, partitions === 256 ? 17 : 33)));
  const ratios: number[] = [];
  holds(
    t,
    fc.property(input, ([partitions, ids]) => {
      const newcomer = ids[ids.length - 1] as string;
      const n = ids.length - 1;
      const before = table(ids.slice(0, n), { partitions }, 1);
      const after = table(ids, { partitions }, 2);
      const moves = diffTables(before, after);
      const ideal = partitions / (n + 1);
      assert.ok(moves.length <= 1.5 * ideal, `${moves.length} moves, ideal ${ideal}`);
      assert.equal(moves.filter((m) => m.to === newcomer).length, after.ownedBy(newcomer).length);
      for (const m of moves) assert.equal(m.from, before.ownerOf(m.partition));
      ratios.push(moves.length / ideal);
    }),
    { numRuns: 120, seed: 20240611 },
  );
  const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  t.true(mean <= 1.1, `mean moves / (P/(N+1)) = ${mean}`);
});

// ---------------------------------------------------------------------------------------------
// 5. Removing a node

test("removing a node: its partitions go to their first backups; others stay (all of them unless the cap binds)", (t) => {
  // Bounded load cannot leave every other partition in place: a node at its cap turned
  // partitions away, and the cap rises when N shrinks. Those few come back (≤ ¼ of the moved
  // count + 3; measured mean 0.9 per removal at P = 1024).
  const input = fc
    .constantFrom(256, 1024, 4096)
    .chain((partitions) => fc.tuple(fc.constant(partitions), memberIds(2, partitions === 256 ? 17 : 33), fc.nat()));
  holds(
    t,
    fc.property(input, ([partitions, ids, pick]) => {
      const gone = ids[pick % ids.length] as string;
      const before = table(ids, { partitions });
      const after = table(ids.filter((id) => id !== gone), { partitions });
      const orphans = before.ownedBy(gone);
      for (const p of orphans) assert.equal(after.ownerOf(p), before.backupsOf(p)[0], `partition ${p}`);
      const others = diffTables(before, after).filter((m) => m.from !== gone).length;
      assert.ok(others <= 0.25 * orphans.length + 3, `${others} other partitions moved (${orphans.length} orphans)`);
    }),
    { numRuns: 100, seed: 20240612 },
  );
});

test("removing a node moves only its own partitions when no cap binds", (t) => {
  holds(
    t,
    fc.property(memberIds(2, 32), fc.constantFrom(1024, 4096), fc.double({ min: 1.8, max: 2, noNaN: true }), fc.nat(), (ids, partitions, c, pick) => {
      const gone = ids[pick % ids.length] as string;
      const rest = ids.filter((id) => id !== gone);
      const before = table(ids, { partitions, loadFactor: c });
      const after = table(rest, { partitions, loadFactor: c });
      fc.pre(capNeverReached(before, view(ids).members, c) && capNeverReached(after, view(rest).members, c));
      const moves = diffTables(before, after);
      assert.ok(moves.every((m) => m.from === gone));
      assert.equal(moves.length, before.ownedBy(gone).length);
    }),
    { numRuns: 60 },
  );
});

test("removing a node spreads its partitions: no survivor gets more than 2× its fair share", (t) => {
  // Fair share = orphans / survivors. When that is ≥ 32 the 2× bound holds (measured worst
  // 1.55×). Below it, rendezvous picks are balls into bins — with 32 orphans over 31 survivors
  // some survivor gets 3–5 — so we check the balls-into-bins tail fair + 4√fair + 4 instead,
  // which still fails for a single buddy once there are more than ~10 orphans.
  holds(
    t,
    fc.property(memberIds(2, 33), fc.constantFrom(256, 1024, 4096), fc.nat(), (ids, partitions, pick) => {
      const gone = ids[pick % ids.length] as string;
      const before = table(ids, { partitions });
      const after = table(ids.filter((id) => id !== gone), { partitions });
      const received = new Map<string, number>();
      for (const p of before.ownedBy(gone)) received.set(after.ownerOf(p), (received.get(after.ownerOf(p)) ?? 0) + 1);
      const fair = before.ownedBy(gone).length / (ids.length - 1);
      const bound = fair >= 32 ? 2 * fair : fair + 4 * Math.sqrt(fair) + 4;
      const most = Math.max(0, ...received.values());
      assert.ok(most <= bound, `a survivor got ${most}, fair share ${fair}`);
    }),
    { numRuns: 80, seed: 20240613 },
  );
});

// ---------------------------------------------------------------------------------------------
// 6. Backups

test("backups: min(backups, N-1) distinct nodes, never the owner; the per-node lists agree", (t) => {
  holds(
    t,
    fc.property(weightedMembers(1, 32), fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 0, max: 4 }), (members, partitions, backups) => {
      const tbl = computeTable({ epoch: 1, members }, { partitions, backups });
      const width = Math.min(backups, members.length - 1);
      const owned = new Map(tbl.members.map((id) => [id, [] as number[]]));
      const backedUp = new Map(tbl.members.map((id) => [id, [] as number[]]));
      for (let p = 0; p < partitions; p++) {
        const owner = tbl.ownerOf(p);
        const bs = tbl.backupsOf(p);
        assert.equal(bs.length, width);
        assert.equal(new Set([owner, ...bs]).size, width + 1);
        owned.get(owner)?.push(p);
        for (const b of bs) backedUp.get(b)?.push(p);
      }
      for (const id of tbl.members) {
        assert.deepEqual(tbl.ownedBy(id), owned.get(id));
        assert.deepEqual(tbl.backedUpBy(id), backedUp.get(id));
      }
      assert.deepEqual(tbl.ownedBy("not-a-member"), []);
      assert.deepEqual(tbl.backedUpBy("not-a-member"), []);
    }),
    { numRuns: 80 },
  );
});

test("first backup = the owner once the owner leaves (hot standby), for every partition", (t) => {
  const input = weightedMembers(2, 32).chain((members) =>
    fc.tuple(fc.constant(members), fc.uniqueArray(fc.integer({ min: 0, max: members.length - 1 }), { minLength: 1, maxLength: 3 })),
  );
  holds(
    t,
    fc.property(input, fc.integer({ min: 1, max: 1024 }), loadFactor, ([members, leaving], partitions, c) => {
      const options = { partitions, loadFactor: c };
      const full = computeTable({ epoch: 1, members }, options);
      for (const i of leaving) {
        const gone = (members[i] as PlacementMember).id;
        const without = computeTable({ epoch: 2, members: members.filter((m) => m.id !== gone) }, options);
        for (const p of full.ownedBy(gone)) assert.equal(full.backupsOf(p)[0], without.ownerOf(p), `partition ${p} of ${gone}`);
      }
    }),
    { numRuns: 40 },
  );
});

test("first backups of one node's partitions are spread over the other nodes, not one buddy", (t) => {
  // Same bound and reason as the removal spread test, checked for every node of the table.
  holds(
    t,
    fc.property(memberIds(2, 32), fc.constantFrom(256, 1024, 4096), (ids, partitions) => {
      const tbl = table(ids, { partitions });
      for (const x of tbl.members) {
        const held = new Map<string, number>();
        for (const p of tbl.ownedBy(x)) {
          const b = tbl.backupsOf(p)[0] as string;
          held.set(b, (held.get(b) ?? 0) + 1);
        }
        const fair = tbl.ownedBy(x).length / (ids.length - 1);
        const bound = fair >= 32 ? 2 * fair : fair + 4 * Math.sqrt(fair) + 4;
        assert.ok(Math.max(0, ...held.values()) <= bound, `${x}: a node holds ${Math.max(...held.values())} first backups, fair ${fair}`);
      }
    }),
    { numRuns: 60, seed: 20240614 },
  );
});

// 7. Speed is measured by `npm run bench -- --only placement` (computeTable and rebalance for
// P = 1024, N = 32, against the bare rendezvous keys), not timed here.

// ---------------------------------------------------------------------------------------------
// Edge cases

test("N = 1: the node owns every partition and there are no backups", (t) => {
  holds(
    t,
    fc.property(nodeId, fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 3 }), (id, partitions, backups) => {
      const tbl = table([id], { partitions, backups });
      assert.deepEqual(tbl.ownedBy(id), range(partitions));
      assert.deepEqual(tbl.backedUpBy(id), []);
      for (let p = 0; p < partitions; p++) {
        assert.equal(tbl.ownerOf(p), id);
        assert.deepEqual(tbl.backupsOf(p), []);
      }
    }),
    { numRuns: 30 },
  );
});

test("N = 2: each node owns about half and backs up the other's partitions", (t) => {
  holds(
    t,
    fc.property(memberIds(2, 2), (ids) => {
      const tbl = table(ids, { partitions: 1024, backups: 3 });
      const [a, b] = tbl.members as [string, string];
      const cap = Math.ceil((C * 1024) / 2);
      for (const [x, y] of [[a, b], [b, a]] as const) {
        assert.ok(tbl.ownedBy(x).length <= cap && tbl.ownedBy(x).length >= 1024 - cap);
        assert.deepEqual(tbl.backedUpBy(y), tbl.ownedBy(x));
        for (const p of tbl.ownedBy(x)) assert.deepEqual(tbl.backupsOf(p), [y]);
      }
    }),
    { numRuns: 30 },
  );
});

test("P = 1: one owner, backups from the others", (t) => {
  holds(
    t,
    fc.property(memberIds(1, 32), fc.integer({ min: 0, max: 3 }), (ids, backups) => {
      const tbl = table(ids, { partitions: 1, backups });
      const owner = tbl.ownerOf(0);
      assert.deepEqual(tbl.ownedBy(owner), [0]);
      assert.equal(tbl.members.filter((id) => tbl.ownedBy(id).length > 0).length, 1);
      assert.equal(tbl.backupsOf(0).length, Math.min(backups, ids.length - 1));
    }),
    { numRuns: 30 },
  );
});

test("defaults: 1024 partitions, 1 backup, load factor 1.15", (t) => {
  const tbl = table(["a", "b", "c"]);
  t.is(tbl.partitions, 1024);
  t.is(tbl.backupsOf(0).length, 1);
  t.deepEqual(DEFAULT_PLACEMENT_OPTIONS, { partitions: 1024, backups: 1, loadFactor: 1.15 });
  t.true(Math.max(...loadsOf(tbl).values()) <= Math.ceil((1.15 * 1024) / 3));
});

test("bad options and bad views throw ConfigError naming the problem", (t) => {
  const bad: [string, () => unknown, RegExp][] = [
    ["partitions 0", () => table(["a"], { partitions: 0 }), /partitions must be an integer from 1 to 65536/],
    ["partitions 1.5", () => table(["a"], { partitions: 1.5 }), /partitions/],
    ["partitions 65537", () => table(["a"], { partitions: 65537 }), /partitions/],
    ["partitions NaN", () => table(["a"], { partitions: Number.NaN }), /partitions/],
    ["backups -1", () => table(["a"], { backups: -1 }), /backups must be an integer/],
    ["backups 0.5", () => table(["a"], { backups: 0.5 }), /backups/],
    ["loadFactor 0.9", () => table(["a"], { loadFactor: 0.9 }), /loadFactor must be a number from 1.0 to 2.0/],
    ["loadFactor 2.5", () => table(["a"], { loadFactor: 2.5 }), /loadFactor/],
    ["loadFactor NaN", () => table(["a"], { loadFactor: Number.NaN }), /loadFactor/],
    ["empty id", () => table(["a", ""]), /non-empty string id/],
    ["duplicate id", () => table(["a", "b", "a"]), /duplicate member id "a"/],
    ["capacity 0", () => table([{ id: "a", capacity: 0 }]), /capacity of member "a"/],
    ["capacity -1", () => table([{ id: "a", capacity: -1 }]), /capacity/],
    ["capacity Infinity", () => table([{ id: "a", capacity: Number.POSITIVE_INFINITY }]), /capacity/],
    ["capacity NaN", () => table([{ id: "a", capacity: Number.NaN }]), /capacity/],
    ["epoch -1", () => table(["a"], {}, -1), /epoch must be a non-negative integer/],
    ["epoch 1.5", () => table(["a"], {}, 1.5), /epoch/],
  ];
  for (const [what, fn, message] of bad) t.throws(fn, { instanceOf: ConfigError, message }, what);
});

test("ownerOf and backupsOf reject a partition outside 0..P-1 with a RangeError", (t) => {
  const tbl = table(["a", "b"], { partitions: 8 });
  for (const p of [-1, 8, 1.5, Number.NaN]) {
    t.throws(() => tbl.ownerOf(p), { instanceOf: RangeError, message: /expected an integer from 0 to 7/ }, String(p));
    t.throws(() => tbl.backupsOf(p), { instanceOf: RangeError }, String(p));
  }
});

test("no members: ownerOf says no worker is up; the lists are empty", (t) => {
  const empty = table([], { partitions: 16 }, 9);
  t.deepEqual(empty.members, []);
  const error = t.throws(() => empty.ownerOf(3), { instanceOf: NoWorkersError, message: /no worker is up.*epoch 9/ });
  t.is(error?.code, "no-workers");
  t.throws(() => empty.ownerOf(16), { instanceOf: RangeError });
  t.deepEqual(empty.backupsOf(3), []);
  t.deepEqual(empty.ownedBy("a"), []);
  t.deepEqual(diffTables(null, empty), []);
  const first = table(["a", "b"], { partitions: 16 });
  t.deepEqual(diffTables(first, empty), []);
  t.deepEqual(diffTables(empty, first), range(16).map((p) => ({ partition: p, from: null, to: first.ownerOf(p) })));
});

test("diffTables: every partition from null at first, nothing between equal tables, owner changes only", (t) => {
  const a = table(["a", "b", "c"], { partitions: 64, backups: 1 });
  const moves = diffTables(null, a);
  t.deepEqual(moves.map((m) => m.partition), range(64));
  t.true(moves.every((m) => m.from === null && m.to === a.ownerOf(m.partition)));
  t.deepEqual(diffTables(a, table(["c", "b", "a"], { partitions: 64, backups: 2 })), []);
  const b = table(["a", "b", "c", "d"], { partitions: 64 });
  const changed = diffTables(a, b);
  t.deepEqual(changed, range(64).filter((p) => a.ownerOf(p) !== b.ownerOf(p)).map((p) => ({ partition: p, from: a.ownerOf(p), to: b.ownerOf(p) })));
  t.true(changed.length > 0);
  t.throws(() => diffTables(a, table(["a"], { partitions: 32 })), { instanceOf: ConfigError, message: /cluster-wide constant/ });
});

// =============================================================================================
// Stored, incremental placement: rebalance(previous, view)
//
// Every property below is exact (no statistical slack) and runs with fresh random seeds on
// random histories: a first table, then joins, leaves and crashes of 1–3 members at a time
// (leave and crash look the same to placement: a member is gone). N stays in 1..32 and
// P ∈ {256, 1024, 4096}, so P ≥ 8·N throughout.

interface Step {
  readonly kind: "join" | "leave" | "crash";
  readonly count: number;
  readonly picks: readonly number[];
  /** A join brings back a member that left earlier (same id, same capacity), if there is one. */
  readonly rejoin: boolean;
}
interface History {
  readonly partitions: number;
  readonly backups: number;
  readonly start: number;
  readonly steps: readonly Step[];
  /** Member k has capacity capacities[k mod length]. */
  readonly capacities: readonly number[];
}
interface Transition {
  readonly before: PartitionTable;
  readonly after: PartitionTable;
  /** The view's members after the change. */
  readonly members: readonly PlacementMember[];
  readonly joined: readonly string[];
  readonly removed: readonly string[];
}

const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom("join" as const, "leave" as const, "crash" as const),
  count: fc.integer({ min: 1, max: 3 }),
  picks: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
  rejoin: fc.boolean(),
});
const histories = (o: { weighted?: boolean; backups?: fc.Arbitrary<number>; partitions?: fc.Arbitrary<number>; maxSteps?: number } = {}): fc.Arbitrary<History> =>
  fc.record({
    partitions: o.partitions ?? fc.constantFrom(256, 1024, 4096),
    backups: o.backups ?? fc.constantFrom(1, 2, 3),
    start: fc.integer({ min: 1, max: 32 }),
    steps: fc.array(step, { minLength: 1, maxLength: o.maxSteps ?? 8 }),
    capacities: o.weighted ? fc.array(fc.constantFrom(0.5, 1, 2, 3), { minLength: 2, maxLength: 8 }) : fc.constant([1]),
  });

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const optionsOf = (h: History): Partial<PlacementOptions> => ({ partitions: h.partitions, backups: h.backups });

/** Runs a history through rebalance: the first table, then one transition per view change. */
function replay(h: History): { first: PartitionTable; firstMembers: readonly PlacementMember[]; transitions: Transition[] } {
  const member = (k: number): PlacementMember => {
    const capacity = h.capacities[k % h.capacities.length] as number;
    return capacity === 1 ? { id: `node-${k}` } : { id: `node-${k}`, capacity };
  };
  let next = 0;
  let current: PlacementMember[] = range(h.start).map(() => member(next++));
  const firstMembers = current;
  const gone: PlacementMember[] = [];
  let table = rebalance(null, { epoch: 1, members: current }, optionsOf(h));
  const first = table;
  const transitions: Transition[] = [];
  for (const s of h.steps) {
    const members = [...current];
    const joined: string[] = [];
    const removed: string[] = [];
    for (let i = 0; i < s.count; i++) {
      const pick = s.picks[i] as number;
      if (s.kind === "join" && members.length < 32) {
        const back = s.rejoin && i === 0 && gone.length > 0 ? gone.splice(pick % gone.length, 1)[0] : undefined;
        const m = back ?? member(next++);
        members.push(m);
        joined.push(m.id);
      } else if (s.kind !== "join" && members.length > 1) {
        const [m] = members.splice(pick % members.length, 1) as [PlacementMember];
        gone.push(m);
        removed.push(m.id);
      }
    }
    if (joined.length + removed.length === 0) continue;
    const after = rebalance(table, { epoch: table.epoch + 1, members }, optionsOf(h));
    transitions.push({ before: table, after, members, joined, removed });
    table = after;
    current = members;
  }
  return { first, firstMembers, transitions };
}

/** Each member's target, lower bound ("far under" below it) and cap; without `without`, if given. */
function boundsOf(members: readonly PlacementMember[], partitions: number, c: number, without?: string) {
  const rest = members.filter((m) => m.id !== without).sort((a, b) => byId(a.id, b.id));
  let total = 0;
  for (const m of rest) total += m.capacity ?? 1;
  return new Map(
    rest.map((m) => {
      const weight = m.capacity ?? 1;
      const target = (partitions * weight) / total;
      return [m.id, { weight, target, lower: Math.floor(target / c), cap: Math.ceil((c * partitions * weight) / total) }] as const;
    }),
  );
}

/** How many of owner x's partitions each member backs up first. */
function firstBackupCountsOf(t: PartitionTable, x: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of t.ownedBy(x)) {
    const b = t.backupsOf(p)[0];
    if (b !== undefined) counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts;
}

function assertSameTable(a: PartitionTable, b: PartitionTable, what: string): void {
  assert.equal(a.epoch, b.epoch, `${what}: epoch`);
  assert.equal(a.partitions, b.partitions, `${what}: partitions`);
  assert.deepEqual(a.members, b.members, `${what}: members`);
  if (a.members.length === 0) return;
  for (let p = 0; p < a.partitions; p++) {
    assert.equal(a.ownerOf(p), b.ownerOf(p), `${what}: owner of ${p}`);
    assert.deepEqual(a.backupsOf(p), b.backupsOf(p), `${what}: backups of ${p}`);
  }
}

/** A deterministic shuffle (the order a view's members arrive in must not matter). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

// ---------------------------------------------------------------------------------------------
// a. Determinism

test("rebalance (a): the same previous table and member set, in any order, give the same table", (t) => {
  holds(
    t,
    fc.property(histories({ maxSteps: 4, partitions: fc.constantFrom(256, 1024) }), fc.nat(), (h, seed) => {
      const { first, firstMembers, transitions } = replay(h);
      assertSameTable(rebalance(null, { epoch: 1, members: shuffled(firstMembers, seed) }, optionsOf(h)), first, "first table");
      for (const { before, after, members: now } of transitions) {
        // Members shuffled and copied, and the previous table as it comes back from the view.
        const stored = decodeTable(JSON.parse(JSON.stringify(encodeTable(before))) as unknown, shuffled(before.members, seed));
        const again = rebalance(stored, { epoch: after.epoch, members: shuffled(now, seed).map((m) => ({ ...m })) }, optionsOf(h));
        assertSameTable(again, after, `epoch ${after.epoch}`);
        // A view with the same members changes nothing but the epoch.
        const same = rebalance(after, { epoch: after.epoch + 1, members: shuffled(now, seed + 1) }, optionsOf(h));
        assert.deepEqual(diffTables(after, same), []);
        for (let p = 0; p < after.partitions; p++) assert.deepEqual(same.backupsOf(p), after.backupsOf(p));
      }
    }),
    { numRuns: 25 },
  );
});

// ---------------------------------------------------------------------------------------------
// b. Balance along histories

test("rebalance (b): max/avg owned partitions ≤ 1.25, and no node over ⌈c·P/N⌉, for every table of a random history", (t) => {
  const ratios: number[] = [];
  holds(
    t,
    fc.property(histories({ maxSteps: 10, backups: fc.constant(1) }), (h) => {
      const { first, transitions } = replay(h);
      for (const tbl of [first, ...transitions.map((tr) => tr.after)]) {
        const loads = tbl.members.map((id) => tbl.ownedBy(id).length);
        assert.equal(loads.reduce((a, b) => a + b, 0), tbl.partitions);
        const n = tbl.members.length;
        const ratio = Math.max(...loads) / (tbl.partitions / n);
        assert.ok(ratio <= 1.25, `epoch ${tbl.epoch}: max/avg = ${ratio} (N = ${n}, P = ${tbl.partitions})`);
        assert.ok(Math.max(...loads) <= Math.ceil((C * tbl.partitions) / n), `epoch ${tbl.epoch}: a node owns ${Math.max(...loads)} > cap`);
        ratios.push(ratio);
      }
    }),
    { numRuns: 40 },
  );
  t.log(`max/avg over ${ratios.length} tables: mean ${mean(ratios).toFixed(3)}, worst ${Math.max(...ratios).toFixed(3)}`);
});

// ---------------------------------------------------------------------------------------------
// c. A join

test("rebalance (c): a single join moves ≤ ⌈P/(N+1)⌉ partitions (≤ 1.1·P/(N+1) once that is ≥ 10), all to the newcomer", (t) => {
  const ratios: number[] = [];
  holds(
    t,
    fc.property(histories({ backups: fc.constant(1) }), (h) => {
      for (const { before, after, joined, removed } of replay(h).transitions) {
        if (joined.length !== 1 || removed.length !== 0) continue;
        const newcomer = joined[0] as string;
        const n = before.members.length;
        const ideal = after.partitions / (n + 1);
        const moves = diffTables(before, after);
        assert.ok(moves.length <= Math.ceil(ideal), `${moves.length} moves for a join to N = ${n}, P = ${after.partitions}`);
        if (ideal >= 10) assert.ok(moves.length <= 1.1 * ideal, `${moves.length} moves, ideal ${ideal}`);
        for (const m of moves) assert.equal(m.to, newcomer, `partition ${m.partition} moved to ${m.to}`);
        assert.ok(after.ownedBy(newcomer).length >= Math.floor(ideal), "the newcomer gets its share");
        ratios.push(moves.length / ideal);
      }
    }),
    { numRuns: 40 },
  );
  t.log(`${ratios.length} joins: moves / (P/(N+1)) mean ${mean(ratios).toFixed(3)}, max ${Math.max(0, ...ratios).toFixed(3)}`);
});

// ---------------------------------------------------------------------------------------------
// d. A removal

/**
 * Histories that stress removals: mostly P = 256 (8–12 partitions per node, where the cap and
 * the lower bound are tight), large clusters, and chains of single removals between joins.
 */
const removalHeavy: fc.Arbitrary<History> = fc.record({
  partitions: fc.constantFrom(256, 256, 1024, 4096),
  backups: fc.constantFrom(1, 2),
  start: fc.integer({ min: 16, max: 32 }),
  steps: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: step.map((s) => ({ ...s, kind: "crash" as const, count: 1 })) },
      { weight: 1, arbitrary: step },
    ),
    { minLength: 4, maxLength: 12 },
  ),
  capacities: fc.constant([1]),
});

test("rebalance (d): a single removal moves only the leaver's partitions, each to its first backup, ≤ ⌈moved/(N−1)⌉ per survivor", (t) => {
  let removals = 0;
  let worst = 0;
  holds(
    t,
    fc.property(removalHeavy, (h) => {
      for (const { before, after, joined, removed } of replay(h).transitions) {
        if (removed.length !== 1 || joined.length !== 0) continue;
        const gone = removed[0] as string;
        const orphans = before.ownedBy(gone);
        const moves = diffTables(before, after);
        assert.equal(moves.length, orphans.length, `${moves.length} moves for ${orphans.length} orphans (N = ${before.members.length}, P = ${before.partitions})`);
        const received = new Map<string, number>();
        for (const m of moves) {
          assert.equal(m.from, gone, `partition ${m.partition} of a survivor moved`);
          assert.equal(m.to, before.backupsOf(m.partition)[0], `partition ${m.partition} did not go to its first backup`);
          received.set(m.to, (received.get(m.to) ?? 0) + 1);
        }
        const fair = Math.ceil(orphans.length / (before.members.length - 1));
        const most = Math.max(0, ...received.values());
        assert.ok(most <= fair, `a survivor received ${most} partitions; fair share ⌈${orphans.length}/${before.members.length - 1}⌉ = ${fair}`);
        removals++;
        if (fair > 0) worst = Math.max(worst, most / fair);
      }
    }),
    { numRuns: 40 },
  );
  t.log(`${removals} removals: worst survivor received ${worst.toFixed(2)}× ⌈fair share⌉`);
});

// ---------------------------------------------------------------------------------------------
// e. Backups

test("rebalance (e): backups are distinct non-owners, min(backups, N−1) of them, and each node's first backups are spread evenly", (t) => {
  holds(
    t,
    fc.property(histories({ maxSteps: 6 }), (h) => {
      const { first, transitions } = replay(h);
      for (const tbl of [first, ...transitions.map((tr) => tr.after)]) {
        const n = tbl.members.length;
        const width = Math.min(h.backups, n - 1);
        const members = new Set(tbl.members);
        for (let p = 0; p < tbl.partitions; p++) {
          const owner = tbl.ownerOf(p);
          const bs = tbl.backupsOf(p);
          assert.equal(bs.length, width, `partition ${p}`);
          assert.equal(new Set([owner, ...bs]).size, width + 1, `partition ${p}: ${owner} / ${bs.join(",")}`);
          for (const b of bs) assert.ok(members.has(b));
        }
        if (n < 2) continue;
        for (const x of tbl.members) {
          const bound = Math.ceil(tbl.ownedBy(x).length / (n - 1));
          const most = Math.max(0, ...firstBackupCountsOf(tbl, x).values());
          assert.ok(most <= bound, `epoch ${tbl.epoch}: one node backs up ${most} of ${x}'s ${tbl.ownedBy(x).length} partitions first (N = ${n})`);
        }
      }
    }),
    { numRuns: 30 },
  );
});

// ---------------------------------------------------------------------------------------------
// f. Backup churn on a removal

test("rebalance (f): after a removal, first backups change only where they must or a bound forces it; no other copies", (t) => {
  // Must change: the leaver's partitions (their first backup became the owner) and those the
  // leaver backed up first. Any other change at owner Y must be forced by a bound of the new
  // table: the old holder i is at its headroom for Y (loadᵢ + countᵢ = cap of the view without
  // Y, so it could not keep more without breaking a later removal of Y) or at the spread
  // ceiling, or some member j has just been raised to its lower bound for Y (so that Y's removal
  // would not leave j far under its share). New backup copies: one per partition that lost a
  // holder it needed, plus at most one per forced first-backup change.
  const extra: number[] = [];
  const must: number[] = [];
  holds(
    t,
    fc.property(fc.oneof(histories(), removalHeavy), (h) => {
      const c = C;
      for (const { before, after, joined, removed, members } of replay(h).transitions) {
        if (removed.length !== 1 || joined.length !== 0) continue;
        const gone = removed[0] as string;
        const load = (id: string) => after.ownedBy(id).length;
        let mustChange = 0;
        let forced = 0;
        let newCopies = 0;
        let mustCopies = 0;
        const width = Math.min(h.backups, after.members.length - 1);
        const owners = new Map<string, { bounds: ReturnType<typeof boundsOf>; now: Map<string, number>; then: Map<string, number>; total: number }>();
        for (let p = 0; p < after.partitions; p++) {
          const held = new Set([before.ownerOf(p), ...before.backupsOf(p)]);
          newCopies += after.backupsOf(p).filter((m) => !held.has(m)).length;
          mustCopies += Math.max(0, width - [...held].filter((m) => m !== gone && m !== after.ownerOf(p)).length);
          const was = before.backupsOf(p)[0];
          if (after.backupsOf(p)[0] === was) continue;
          if (before.ownerOf(p) === gone || was === gone || width === 0) {
            mustChange++;
            continue;
          }
          const y = after.ownerOf(p);
          const i = was as string;
          let o = owners.get(y);
          if (o === undefined) {
            const bounds = boundsOf(members, after.partitions, c, y);
            let total = 0;
            for (const b of bounds.values()) total += b.weight;
            o = { bounds, now: firstBackupCountsOf(after, y), then: firstBackupCountsOf(before, y), total };
            owners.set(y, o);
          }
          const b = o.bounds.get(i);
          assert.ok(b !== undefined);
          const count = o.now.get(i) ?? 0;
          const ceiling = Math.ceil((after.ownedBy(y).length * b.weight) / o.total);
          const atBound = load(i) + count >= b.cap || count >= ceiling;
          const raised = [...o.bounds].some(([j, bj]) => (o.now.get(j) ?? 0) > (o.then.get(j) ?? 0) && load(j) + (o.now.get(j) ?? 0) <= bj.lower);
          assert.ok(atBound || raised, `partition ${p} (owner ${y}): first backup ${i} → ${after.backupsOf(p)[0]} was not forced`);
          forced++;
        }
        assert.ok(newCopies <= mustCopies + forced, `${newCopies} new backup copies; ${mustCopies} needed, ${forced} forced`);
        must.push(mustChange);
        extra.push(forced);
      }
    }),
    { numRuns: 40 },
  );
  const withExtra = extra.filter((e) => e > 0).length;
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  t.log(
    `${extra.length} removals: ${sum(must)} first backups had to change, ${sum(extra)} more were forced ` +
      `(${((100 * sum(extra)) / Math.max(1, sum(must))).toFixed(2)}%; in ${withExtra} removals, at most ${Math.max(0, ...extra)} in one)`,
  );
});

// ---------------------------------------------------------------------------------------------
// g. Weighted members

test("rebalance (g): weighted members own between ⌊P·wᵢ/(c·Σw)⌋ and ⌈c·P·wᵢ/Σw⌉; removals stay minimal", (t) => {
  holds(
    t,
    fc.property(histories({ weighted: true, maxSteps: 6, backups: fc.constant(1) }), (h) => {
      const { first, firstMembers, transitions } = replay(h);
      const steps: [PartitionTable, readonly PlacementMember[]][] = [[first, firstMembers], ...transitions.map((tr): [PartitionTable, readonly PlacementMember[]] => [tr.after, tr.members])];
      for (const [tbl, members] of steps) {
        for (const [id, b] of boundsOf(members, tbl.partitions, C)) {
          const load = tbl.ownedBy(id).length;
          assert.ok(load >= b.lower && load <= b.cap, `epoch ${tbl.epoch}: ${id} (capacity ${b.weight}) owns ${load}, share ${b.target.toFixed(1)}, allowed ${b.lower}..${b.cap}`);
        }
        // First backups spread in proportion to capacity.
        if (members.length < 2) continue;
        const all = boundsOf(members, tbl.partitions, C);
        let total = 0;
        for (const b of all.values()) total += b.weight;
        for (const x of tbl.members) {
          const rest = total - (all.get(x)?.weight as number);
          for (const [i, count] of firstBackupCountsOf(tbl, x)) {
            const bound = Math.ceil((tbl.ownedBy(x).length * (all.get(i)?.weight as number)) / rest);
            assert.ok(count <= bound, `${i} backs up ${count} of ${x}'s partitions first, more than ⌈its share⌉ = ${bound}`);
          }
        }
      }
      for (const { before, after, joined, removed } of transitions) {
        if (removed.length !== 1 || joined.length !== 0) continue;
        for (const m of diffTables(before, after)) {
          assert.equal(m.from, removed[0]);
          assert.equal(m.to, before.backupsOf(m.partition)[0]);
        }
      }
    }),
    { numRuns: 40 },
  );
});

// ---------------------------------------------------------------------------------------------
// h. Encoding

test("encodeTable/decodeTable (h): JSON round trip gives the same table", (t) => {
  holds(
    t,
    fc.property(weightedMembers(0, 12), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 0, max: 3 }), fc.nat(), (members, partitions, backups, seed) => {
      const tbl = rebalance(null, { epoch: 7, members }, { partitions, backups });
      const json = JSON.stringify(encodeTable(tbl));
      const back = decodeTable(JSON.parse(json) as unknown, shuffled(members, seed));
      assertSameTable(back, tbl, "round trip");
      for (const id of tbl.members) assert.deepEqual(back.backedUpBy(id), tbl.backedUpBy(id));
      assert.deepEqual(encodeTable(back), encodeTable(tbl));
    }),
    { numRuns: 100 },
  );
});

test("decodeTable (h): malformed encodings are rejected with MalformedMessageError", (t) => {
  const ids = ["a", "b", "c", "d"];
  const good = encodeTable(rebalance(null, { epoch: 3, members: ids.map((id) => ({ id })) }, { partitions: 8, backups: 2 }));
  t.notThrows(() => decodeTable(good, ids));
  const edit = (change: (e: Record<string, unknown>) => void): unknown => {
    const e = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    change(e);
    return e;
  };
  const owners = (e: Record<string, unknown>) => e.owners as unknown[];
  const backups = (e: Record<string, unknown>) => e.backups as unknown[];
  const bad: [string, unknown, readonly string[], RegExp][] = [
    ["null", null, ids, /expected an object/],
    ["an array", [], ids, /expected an object/],
    ["a string", "{}", ids, /expected an object/],
    ["unknown field", edit((e) => (e.extra = 1)), ids, /unknown field "extra"/],
    ["version 2", edit((e) => (e.v = 2)), ids, /unsupported version 2/],
    ["no version", edit((e) => delete e.v), ids, /unsupported version/],
    ["epoch -1", edit((e) => (e.epoch = -1)), ids, /epoch must be a non-negative integer/],
    ["epoch 1.5", edit((e) => (e.epoch = 1.5)), ids, /epoch/],
    ["epoch as string", edit((e) => (e.epoch = "3")), ids, /epoch/],
    ["partitions 0", edit((e) => (e.partitions = 0)), ids, /partitions must be an integer from 1 to 65536/],
    ["partitions 65537", edit((e) => (e.partitions = 65537)), ids, /partitions/],
    ["member count", edit((e) => (e.memberCount = 5)), ids, /for 5 members but the view has 4/],
    ["fewer view members", good, ["a", "b", "c"], /for 4 members but the view has 3/],
    ["duplicate view member", good, ["a", "b", "b", "c"], /duplicate member id "b"/],
    ["empty view member id", good, ["a", "", "b", "c"], /non-empty strings/],
    ["width -1", edit((e) => (e.width = -1)), ids, /width must be an integer from 0 to 3/],
    ["width ≥ N", edit((e) => (e.width = 4)), ids, /width must be an integer from 0 to 3/],
    ["width mismatch", edit((e) => (e.width = 1)), ids, /backups must be an array of 8 member indexes/],
    ["owners too short", edit((e) => owners(e).pop()), ids, /owners must be an array of 8/],
    ["owners not an array", edit((e) => (e.owners = { 0: 1 })), ids, /owners must be an array/],
    ["backups too long", edit((e) => backups(e).push(0)), ids, /backups must be an array of 16/],
    ["owner out of range", edit((e) => (owners(e)[5] = 4)), ids, /owner of partition 5 must be a member index from 0 to 3; got 4/],
    ["owner negative", edit((e) => (owners(e)[0] = -1)), ids, /owner of partition 0/],
    ["owner fractional", edit((e) => (owners(e)[0] = 0.5)), ids, /owner of partition 0/],
    ["owner as string", edit((e) => (owners(e)[2] = "1")), ids, /owner of partition 2 .* got "1"/],
    ["owner null", edit((e) => (owners(e)[2] = null)), ids, /owner of partition 2/],
    ["backup out of range", edit((e) => (backups(e)[3] = 9)), ids, /backup 1 of partition 1 must be a member index/],
    ["backup = owner", edit((e) => (backups(e)[6] = owners(e)[3] as number)), ids, /partition 3 has its owner "[a-d]" as a backup/],
    ["duplicate backup", edit((e) => (backups(e)[9] = backups(e)[8] as number)), ids, /partition 4 has "[a-d]" as a backup twice/],
  ];
  for (const [what, encoded, members, message] of bad) {
    t.throws(() => decodeTable(encoded, members), { instanceOf: MalformedMessageError, message }, what);
  }
  // The empty table of an empty view round-trips; a table for members cannot claim none.
  const empty = encodeTable(rebalance(null, { epoch: 1, members: [] }, { partitions: 8 }));
  t.deepEqual(empty, { v: 1, epoch: 1, partitions: 8, memberCount: 0, width: 0, owners: [], backups: [] } satisfies EncodedTable);
  t.deepEqual(decodeTable(empty, []).members, []);
  t.throws(() => decodeTable({ ...empty, owners: [0] }, []), { instanceOf: MalformedMessageError, message: /owners must be an array of 0/ });
});

test("decodeTable (h): any single corrupted index is rejected or still decodes to a valid table", (t) => {
  holds(
    t,
    fc.property(memberIds(2, 8), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 3 }), fc.nat(), fc.oneof(fc.integer({ min: -3, max: 12 }), fc.double(), fc.constant(null)), (ids, partitions, backups, at, value) => {
      const good = encodeTable(rebalance(null, { epoch: 2, members: ids.map((id) => ({ id })) }, { partitions, backups }));
      const bad = JSON.parse(JSON.stringify(good)) as { owners: unknown[]; backups: unknown[] };
      const slots = bad.owners.length + bad.backups.length;
      const k = at % slots;
      if (k < bad.owners.length) bad.owners[k] = value;
      else bad.backups[k - bad.owners.length] = value;
      let decoded: PartitionTable;
      try {
        decoded = decodeTable(bad, ids);
      } catch (e) {
        assert.ok(e instanceof MalformedMessageError, String(e));
        return;
      }
      // Accepted: then it must be a valid table (the change kept every index in range and distinct).
      for (let p = 0; p < partitions; p++) {
        const row = [decoded.ownerOf(p), ...decoded.backupsOf(p)];
        assert.equal(new Set(row).size, row.length);
      }
    }),
    { numRuns: 200 },
  );
});

// ---------------------------------------------------------------------------------------------
// rebalance: first tables, fallbacks, edge cases, speed

test("rebalance(null, view): each member owns ⌊P·wᵢ/Σw⌋ or ⌈P·wᵢ/Σw⌉ partitions", (t) => {
  holds(
    t,
    fc.property(weightedMembers(1, 32), fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 3 }), (members, partitions, backups) => {
      const tbl = rebalance(null, { epoch: 1, members }, { partitions, backups });
      for (const [id, b] of boundsOf(members, partitions, 1)) {
        const load = tbl.ownedBy(id).length;
        assert.ok(load >= Math.floor(b.target) && load <= Math.ceil(b.target), `${id}: ${load}, share ${b.target}`);
      }
    }),
    { numRuns: 60 },
  );
});

test("rebalance starts afresh when the partition count changed or no member is left", (t) => {
  const members = ["a", "b", "c", "d"].map((id) => ({ id }));
  const fresh = rebalance(null, { epoch: 5, members }, { partitions: 64 });
  const other = rebalance(null, { epoch: 4, members }, { partitions: 32 });
  assertSameTable(rebalance(other, { epoch: 5, members }, { partitions: 64 }), fresh, "other P");
  const strangers = rebalance(null, { epoch: 4, members: [{ id: "x" }, { id: "y" }] }, { partitions: 64 });
  assertSameTable(rebalance(strangers, { epoch: 5, members }, { partitions: 64 }), fresh, "no member in common");
  const empty = rebalance(fresh, { epoch: 6, members: [] }, { partitions: 64 });
  t.deepEqual(empty.members, []);
  t.throws(() => empty.ownerOf(0), { instanceOf: NoWorkersError });
  assertSameTable(rebalance(empty, { epoch: 5, members }, { partitions: 64 }), fresh, "after an empty view");
  t.throws(() => rebalance(fresh, { epoch: -1, members }), { instanceOf: ConfigError, message: /epoch/ });
  t.throws(() => rebalance(fresh, { epoch: 6, members: [{ id: "a" }, { id: "a" }] }), { instanceOf: ConfigError, message: /duplicate/ });
});

test("rebalance: N = 1 owns everything; with no backups a removal sends orphans to their best-ranked member with room", (t) => {
  const one = rebalance(null, { epoch: 1, members: [{ id: "solo" }] }, { partitions: 256, backups: 2 });
  t.deepEqual(one.ownedBy("solo"), range(256));
  t.deepEqual(one.backupsOf(0), []);
  const ids = range(6).map((i) => `n${i}`);
  const before = rebalance(null, { epoch: 1, members: ids.map((id) => ({ id })) }, { partitions: 256, backups: 0 });
  const after = rebalance(before, { epoch: 2, members: ids.slice(1).map((id) => ({ id })) }, { partitions: 256, backups: 0 });
  const moves = diffTables(before, after);
  t.true(moves.every((m) => m.from === "n0"));
  t.is(moves.length, before.ownedBy("n0").length);
  t.deepEqual(after.backupsOf(0), []);
});
