import type { NodeDirectory, NodeRecord, StoredView, View, ViewStore } from "./types.js";

/**
 * The view and node records in memory, shared by the nodes of an in-process test cluster.
 * Same contract as the NATS stores (compare-and-set included), no persistence.
 */
export class InMemoryViewStore implements ViewStore {
  private current: StoredView | null = null;
  private readonly watchers = new Set<(stored: StoredView) => void>();

  async read(): Promise<StoredView | null> {
    return this.current;
  }

  async swap(next: View, expected: number | null): Promise<StoredView | null> {
    if ((this.current?.revision ?? null) !== expected) return null;
    const stored = { view: next, revision: (this.current?.revision ?? 0) + 1 };
    this.current = stored;
    for (const w of this.watchers) setImmediate(() => w(stored));
    return stored;
  }

  watch(onChange: (stored: StoredView) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  async close(): Promise<void> {}
}

export class InMemoryDirectory implements NodeDirectory {
  private readonly records = new Map<string, NodeRecord>();

  async put(record: NodeRecord): Promise<void> {
    this.records.set(record.id, record);
  }

  async remove(id: string): Promise<void> {
    this.records.delete(id);
  }

  async list(): Promise<NodeRecord[]> {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}
