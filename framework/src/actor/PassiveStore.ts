/** A passivated actor: its serialized record and what the sweeper needs without parsing it. */
export interface PassiveEntry {
  readonly partition: number;
  readonly data: string;
  readonly lastUsed: number;
  readonly passivatedAt: number;
  /** `[timer id, due]` of its pending timers (an actor with timers never expires). */
  readonly due: ReadonlyArray<readonly [string, number]>;
}

/**
 * The passivated actors of one type, in passivation order (the sweeper relies on it), indexed
 * by partition too: a move exports or drops one partition's actors without scanning every
 * actor of the node (with 100,000 passivated actors, a scan per moving partition stalled
 * rebalancing for hundreds of milliseconds).
 */
export class PassiveStore implements Iterable<[string, PassiveEntry]> {
  private readonly byId = new Map<string, PassiveEntry>();
  private readonly byPartition = new Map<number, Set<string>>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): PassiveEntry | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  set(id: string, entry: PassiveEntry): void {
    const before = this.byId.get(id);
    if (before !== undefined && before.partition !== entry.partition) this.unindex(id, before.partition);
    // Re-inserting moves the entry to the end: passivation order.
    if (before !== undefined) this.byId.delete(id);
    this.byId.set(id, entry);
    let ids = this.byPartition.get(entry.partition);
    if (ids === undefined) this.byPartition.set(entry.partition, (ids = new Set()));
    ids.add(id);
  }

  delete(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.byId.delete(id);
    this.unindex(id, entry.partition);
    return true;
  }

  /** The ids passivated in `partition` (a copy: the caller may delete while iterating). */
  idsIn(partition: number): string[] {
    const ids = this.byPartition.get(partition);
    return ids === undefined ? [] : [...ids];
  }

  [Symbol.iterator](): Iterator<[string, PassiveEntry]> {
    return this.byId[Symbol.iterator]();
  }

  private unindex(id: string, partition: number): void {
    const ids = this.byPartition.get(partition);
    if (ids === undefined) return;
    ids.delete(id);
    if (ids.size === 0) this.byPartition.delete(partition);
  }
}
