// The live store in memory (embedded mode, tests): the same contract as Redis — generations, newest
// version per row wins, pushes during a resync reach both generations.
import type { Doc, Projection, ProjectionState } from '../../domain/projection.js';
import type { LiveStore, RowChanges, Snapshot } from '../../application/ports.js';

interface Generation {
  epoch: number;
  readonly entities: Map<string, Doc>;
  readonly counters: Map<string, Map<string, number>>;
  readonly versions: Map<string, number>;
  readonly indexes: Map<string, Map<string, number>>;
}

const newGeneration = (): Generation => ({ epoch: 0, entities: new Map(), counters: new Map(), versions: new Map(), indexes: new Map() });

function write(g: Generation, p: Projection, changes: RowChanges): void {
  for (const e of changes.entities) {
    const v = g.versions.get(`e|${e.key}`);
    if (v !== undefined && v >= e.version) continue;
    g.entities.set(e.key, structuredClone(e.doc));
    g.versions.set(`e|${e.key}`, e.version);
    for (const ix of p.indexes) g.indexes.get(ix)?.delete(e.key);
    for (const m of e.indexes) {
      const members = g.indexes.get(m.index) ?? new Map<string, number>();
      members.set(e.key, m.score);
      g.indexes.set(m.index, members);
    }
  }
  for (const c of changes.counters) {
    const id = `c|${c.key}|${c.field}`;
    const v = g.versions.get(id);
    if (v !== undefined && v >= c.version) continue;
    const fields = g.counters.get(c.key) ?? new Map<string, number>();
    fields.set(c.field, c.value);
    g.counters.set(c.key, fields);
    g.versions.set(id, c.version);
  }
}

export class MemoryLiveStore implements LiveStore {
  readonly kind = 'memory' as const;
  private readonly current = new Map<string, Generation>();
  private readonly next = new Map<string, Generation>();

  push(p: Projection, changes: RowChanges): Promise<boolean> {
    const g = this.current.get(p.name);
    if (g) write(g, p, changes);
    const n = this.next.get(p.name);
    if (n) write(n, p, changes);
    return Promise.resolve(g !== undefined);
  }

  async resync(p: Projection, load: () => Promise<Snapshot>): Promise<boolean> {
    if (this.next.has(p.name)) return false;
    const g = newGeneration();
    this.next.set(p.name, g);
    try {
      const snapshot = await load();
      g.epoch = snapshot.epoch;
      write(g, p, snapshot);
      this.current.set(p.name, g);
      return true;
    } finally {
      this.next.delete(p.name);
    }
  }

  epoch(p: Projection): Promise<number | undefined> {
    return Promise.resolve(this.current.get(p.name)?.epoch);
  }

  /** Forgets everything (tests: a live store that lost its data). */
  clear(): void {
    this.current.clear();
  }

  entities(projection: string, keys: readonly string[]): Promise<(Doc | undefined)[]> {
    const g = this.current.get(projection);
    return Promise.resolve(keys.map((k) => g?.entities.get(k)));
  }

  counters(projection: string, key: string): Promise<Record<string, number>> {
    const fields = this.current.get(projection)?.counters.get(key);
    return Promise.resolve(Object.fromEntries([...(fields ?? [])].filter(([, v]) => v !== 0)));
  }

  counterKeys(projection: string): Promise<string[]> {
    return Promise.resolve([...(this.current.get(projection)?.counters.keys() ?? [])].sort());
  }

  indexRange(projection: string, index: string, limit: number): Promise<{ members: { key: string; score: number }[]; total: number }> {
    const members = [...(this.current.get(projection)?.indexes.get(index) ?? [])]
      .map(([key, score]) => ({ key, score }))
      .sort((a, b) => a.score - b.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return Promise.resolve({ members: members.slice(0, limit), total: members.length });
  }

  dump(projection: string): Promise<ProjectionState> {
    const g = this.current.get(projection) ?? newGeneration();
    const counters = new Map<string, Map<string, number>>();
    for (const [k, fields] of g.counters) {
      const nonZero = new Map([...fields].filter(([, v]) => v !== 0));
      if (nonZero.size > 0) counters.set(k, nonZero);
    }
    return Promise.resolve({ entities: new Map(g.entities), counters });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
