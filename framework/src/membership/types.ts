import type { EncodedTable } from "../placement/index.js";

/**
 * Membership types: who is in the cluster (the view), what each node says about itself (its
 * record and heartbeats), and where they are stored.
 */

/** What a node does: workers host actors; gateways route requests and host nothing. */
export type Role = "worker" | "gateway";

/** A node as the view lists it. */
export interface Member {
  readonly id: string;
  readonly roles: readonly Role[];
  /** Relative weight for placement (default 1). */
  readonly capacity: number;
  /** Random per process start: a restarted node with the same id is a new incarnation. */
  readonly incarnation: string;
  /** A node shutting down gracefully: still a member (it hands its partitions over), placed nowhere. */
  readonly leaving?: boolean;
}

/**
 * The cluster's membership at one epoch, with its partition table. The table is computed by
 * the node that changed the view, from the previous table (docs/architecture.md#placement), so
 * every node uses the identical table.
 */
export interface View {
  readonly epoch: number;
  /** Sorted by id. */
  readonly members: readonly Member[];
  /** The partition table over the view's workers; null while there are none. */
  readonly table: EncodedTable | null;
}

/** Where a node is in its life (see nodeLifecycle.ts). */
export type NodeState = "starting" | "joining" | "up" | "leaving" | "down";

/** What a node publishes about itself in the directory (for `berth status` and gateways). */
export interface NodeRecord extends Member {
  readonly state: NodeState;
  readonly pid: number;
  readonly host: string;
  /** ms since the epoch. */
  readonly started: number;
  /** When the record was last written. */
  readonly updated: number;
  /** The node's HTTP address, if it serves HTTP (gateway or embedded). */
  readonly http?: string;
  /** The version of the protocol between nodes it speaks (`WIRE_PROTOCOL`; 1 for records written before nodes said). */
  readonly protocol: number;
  readonly stats?: NodeRecordStats;
}

/** Counts a node reports in its record. */
export interface NodeRecordStats {
  readonly actors: number;
  readonly partitions: number;
  readonly epoch: number;
  readonly [more: string]: number;
}

/** A liveness signal on core NATS, every `heartbeatMs`. */
export interface Heartbeat {
  readonly id: string;
  readonly incarnation: string;
  /** The newest view epoch the sender has seen. */
  readonly epoch: number;
  readonly state: NodeState;
}

/**
 * A view with the store revision it was read at (for compare-and-set). `view` is null when
 * the stored value is unreadable (not written by Berth): nodes keep their last good view and
 * the proposer repairs the store.
 */
export interface StoredView {
  readonly view: View | null;
  readonly revision: number;
}

/**
 * Where the view lives. `swap` is compare-and-set: it writes only if the stored revision is
 * still `expected`, so every epoch has exactly one view.
 */
export interface ViewStore {
  read(): Promise<StoredView | null>;
  /** Writes `next` if the revision is still `expected` (`null`: no view yet). Returns null when another writer won. */
  swap(next: View, expected: number | null): Promise<StoredView | null>;
  /** Calls `onChange` with new views as they are written (best effort: reconcile too). */
  watch(onChange: (stored: StoredView) => void): () => void;
  close(): Promise<void>;
}

/** Where node records live. */
export interface NodeDirectory {
  put(record: NodeRecord): Promise<void>;
  remove(id: string): Promise<void>;
  list(): Promise<NodeRecord[]>;
}
