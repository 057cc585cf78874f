import { initialTransition, setup, transition, type SnapshotFrom } from "xstate";

/**
 * The life of one partition on one node, as an xstate machine. Both sides of a move are in
 * it, in the vocabulary of the design:
 *
 *   receiver:  idle → awaiting → catchingUp → serving
 *   failover:  idle → recovering → serving            (the receiver path fed from backups and the log)
 *   owner:     serving → draining → transferring → released → idle
 *
 * The machine is pure: it decides; `PartitionManager` performs the work on entering a state
 * (pull records, drain, export, drop) and reports back with events. Every path through it is
 * enumerated in test/unit/partition-machine.test.ts.
 *
 * - `awaiting`: this node owns the partition in the view and the previous owner is a live
 *   member; this node waits for a move slot and pulls from it. Calls are held.
 * - `catchingUp`: the previous owner has drained and its records are arriving. Calls are held.
 * - `recovering`: no live previous owner (failover, a fresh cluster, or the source had nothing):
 *   records come from any live member still holding the partition, else from the backups of
 *   every live member and the event log (highest sequence wins). Calls are held.
 * - `draining`: the view gave the partition to another node: new calls are held; running turns
 *   and their replication finish. A node never serves a partition the view gave away.
 * - `transferring`: drained; the new owner pulls the records, then confirms (`TRANSFERRED`).
 *   If the view gives the partition back first, it serves again (`RECLAIM`).
 * - `released`: the new owner serves; this node drops the partition and re-routes held calls.
 */
export type PartitionEvent =
  | { type: "ACQUIRE_FROM_PEER" }
  | { type: "ACQUIRE_RECOVER" }
  | { type: "PULL_STARTED" }
  | { type: "RECEIVED" }
  | { type: "SOURCE_LOST" }
  | { type: "RECOVERED" }
  | { type: "RECOVERY_FAILED" }
  | { type: "DISOWN" }
  | { type: "RELEASE" }
  | { type: "DRAINED" }
  | { type: "TRANSFERRED" }
  | { type: "RECLAIM" }
  | { type: "RESET" };

export const partitionMachine = setup({
  types: { events: {} as PartitionEvent },
}).createMachine({
  id: "partition",
  initial: "idle",
  states: {
    idle: {
      on: { ACQUIRE_FROM_PEER: "awaiting", ACQUIRE_RECOVER: "recovering" },
    },
    awaiting: {
      on: { PULL_STARTED: "catchingUp", SOURCE_LOST: "recovering", DISOWN: "idle" },
    },
    catchingUp: {
      on: { RECEIVED: "serving", SOURCE_LOST: "recovering", DISOWN: "idle" },
    },
    recovering: {
      on: { RECOVERED: "serving", RECOVERY_FAILED: { target: "recovering", reenter: true }, DISOWN: "idle" },
    },
    serving: {
      on: { RELEASE: "draining" },
    },
    draining: {
      on: { DRAINED: "transferring", RECLAIM: "serving" },
    },
    transferring: {
      on: { TRANSFERRED: "released", RECLAIM: "serving" },
    },
    released: {
      on: { RESET: "idle" },
    },
  },
});

export type PartitionState = "idle" | "awaiting" | "catchingUp" | "recovering" | "serving" | "draining" | "transferring" | "released";

type PartitionSnapshot = SnapshotFrom<typeof partitionMachine>;

/** The machine's initial snapshot (`idle`). */
export const initialPartitionSnapshot: PartitionSnapshot = initialTransition(partitionMachine)[0];

const memo = new Map<string, PartitionSnapshot>();

/**
 * xstate's pure `transition`, memoized. The machine has no context, guards or history, so the
 * next snapshot depends only on the current state and the event type: each (state, event) pair
 * is computed by xstate once and reused. `transition` builds an inert actor per call (~10 µs
 * here); a rebalance makes thousands of transitions on one event loop in a burst.
 */
export function nextPartitionSnapshot(snapshot: PartitionSnapshot, event: PartitionEvent): PartitionSnapshot {
  const key = `${String(snapshot.value)}|${event.type}`;
  let next = memo.get(key);
  if (next === undefined) {
    next = transition(partitionMachine, snapshot, event)[0];
    memo.set(key, next);
  }
  return next;
}
