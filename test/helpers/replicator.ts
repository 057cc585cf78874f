import pino from "pino";
import type { PartitionTable } from "../../framework/src/placement/index.js";
import type { ReplicatorDeps } from "../../framework/src/replication/Replicator.js";

/**
 * What a `Replicator` needs from its node, for unit tests: node n1, whose partitions all have
 * the one backup b1, at epoch 1 with a valid lease, no event log and no records; a quiet logger.
 * Pass the backup's side (`sendItems`) and whatever else the test changes.
 */
export function replicatorDeps(overrides: Partial<ReplicatorDeps> = {}): ReplicatorDeps {
  return {
    selfId: "n1",
    log: pino({ level: "silent" }),
    sendItems: () => Promise.resolve({ needFull: [] }),
    maxPayload: () => 1 << 20,
    table: () => ({ members: ["n1", "b1"], backupsOf: () => ["b1"] }) as unknown as PartitionTable,
    epoch: () => 1,
    ownershipEpoch: () => 1,
    leaseValid: () => true,
    recordOf: () => undefined,
    eventLog: () => null,
    ...overrides,
  };
}
