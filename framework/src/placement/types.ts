/**
 * The public types of placement: which node owns, and which nodes back up, each partition.
 * See DESIGN.md, section "Placement".
 */

/** A worker node as placement sees it. */
export interface PlacementMember {
  /** The node id; unique in the view. */
  readonly id: string;
  /** Relative weight: a node of capacity 2 gets about twice the partitions. Default 1; must be > 0. */
  readonly capacity?: number;
}

/** The cluster view placement is computed from: the same view gives the same table on every node. */
export interface PlacementView {
  /** The membership epoch this view belongs to; copied into the table. */
  readonly epoch: number;
  /** The live worker nodes, in any order. */
  readonly members: readonly PlacementMember[];
}

/** How partitions are placed. Every node of a cluster must use the same options. */
export interface PlacementOptions {
  /** Number of partitions P, a cluster-wide constant from 1 to 65536. Default 1024. */
  readonly partitions: number;
  /** Backups per partition (each on a distinct node other than the owner). Default 1. */
  readonly backups: number;
  /**
   * Bounded-load factor c, from 1.0 to 2.0: no node owns more than ⌈c·P·wᵢ/Σw⌉ partitions.
   * Default 1.15, the largest value that keeps max/avg ≤ 1.25 for P ≥ 256 and N ≤ 32.
   */
  readonly loadFactor?: number;
}

/** Partition → owner and backups, for one cluster view. Immutable. */
export interface PartitionTable {
  /** The epoch of the view the table was computed from. */
  readonly epoch: number;
  /** The partition count P. */
  readonly partitions: number;
  /** The member ids, sorted (by UTF-16 code units). */
  readonly members: readonly string[];
  /**
   * The node that owns a partition.
   * @throws RangeError if `partition` is not an integer in 0..P-1
   * @throws NoWorkersError if the view has no members
   */
  ownerOf(partition: number): string;
  /**
   * The partition's backups, first backup first: `min(backups, N-1)` distinct nodes, never the
   * owner. The first backup is the node that owns the partition if the owner leaves.
   * @throws RangeError if `partition` is not an integer in 0..P-1
   */
  backupsOf(partition: number): readonly string[];
  /** The partitions a node owns, ascending; empty for an unknown node. */
  ownedBy(nodeId: string): readonly number[];
  /** The partitions a node backs up (at any backup position), ascending; empty for an unknown node. */
  backedUpBy(nodeId: string): readonly number[];
}

/** One partition changing owner between two tables. */
export interface PartitionMove {
  readonly partition: number;
  /** The previous owner; null when there was none (first table, or an empty cluster). */
  readonly from: string | null;
  readonly to: string;
}
