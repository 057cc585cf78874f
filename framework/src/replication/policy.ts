/**
 * Backup policies decide what happens to a committed turn's delta before and after the
 * caller gets its reply. This file holds the interface and `none()`; the replicating
 * policies live beside it.
 */

/** How an actor type's turns are backed up. Choose one per actor type with `defineActor({ backup })`. */
export interface BackupPolicy {
  /** A short name for logs and `berth status`, e.g. `"sync(backups=1)"`. */
  readonly name: string;
  /** Whether committed turns must produce deltas (false only for memory-only policies). */
  readonly replicates: boolean;
}

/**
 * Memory only: no replication. A passivated actor's state stays in the node's memory; a
 * node that dies loses its sessions — the trade-off of plain sticky sessions.
 * @example defineActor("scratch", { state: () => ({}), backup: none() })
 */
export function none(): BackupPolicy {
  return NONE;
}

const NONE: BackupPolicy = Object.freeze({ name: "none", replicates: false });
