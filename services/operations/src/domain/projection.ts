// The projection kit, pure. A projection is a name, the events it handles, and a fold kept per
// entity: `entityOf(event)` names the one entity an event changes, `evolve(doc, event)` folds it, and
// `contributions(key, doc)` says what the entity adds to the projection's counters (sums) and
// indexes (sorted sets). The stores keep the entity documents and the counters; a counter is always
// the sum of the contributions of the current documents, so an event changes the counters by
// contributions(after) − contributions(before) — and a projection rebuilt from nothing equals one
// kept live, whatever order the events came in, when `evolve` is order-independent (every
// projection here is: statuses merge by rank, facts are kept from whichever event carries them).
import type { AlbergueEvent, EventDefinition } from '@albergue/events';

/** A JSON document (what evolve returns): plain data, no undefined values. */
export type Doc = { readonly [field: string]: unknown };

export interface CounterContribution {
  /** Counter group, e.g. `albergue:<id>`; one Redis hash, one set of rows. */
  readonly key: string;
  readonly field: string;
  readonly value: number;
}

export interface IndexEntry {
  /** One of the projection's `indexes`. */
  readonly index: string;
  readonly score: number;
}

export interface Contributions {
  readonly counters: readonly CounterContribution[];
  readonly indexes: readonly IndexEntry[];
}

export const NO_CONTRIBUTIONS: Contributions = { counters: [], indexes: [] };

export interface Projection<D extends Doc = Doc> {
  readonly name: string;
  readonly description: string;
  readonly events: readonly EventDefinition[];
  /** Sorted sets of entity keys the projection keeps (for "oldest first" questions). */
  readonly indexes: readonly string[];
  /** The entity the event changes (`booking:<id>`), or undefined when it changes none. */
  entityOf(event: AlbergueEvent): string | undefined;
  evolve(doc: D | undefined, event: AlbergueEvent): D;
  contributions(key: string, doc: D): Contributions;
}

/** Counter deltas between two contribution sets, zero deltas dropped, sorted by key then field (lock order). */
export function counterDeltas(before: Contributions, after: Contributions): CounterContribution[] {
  const sums = new Map<string, CounterContribution>();
  const add = (c: CounterContribution, sign: number) => {
    const id = `${c.key}\u0000${c.field}`;
    const prev = sums.get(id);
    sums.set(id, { key: c.key, field: c.field, value: (prev?.value ?? 0) + sign * c.value });
  };
  for (const c of before.counters) add(c, -1);
  for (const c of after.counters) add(c, 1);
  return [...sums.values()]
    .filter((c) => c.value !== 0)
    .sort((a, b) => (a.key === b.key ? (a.field < b.field ? -1 : a.field > b.field ? 1 : 0) : a.key < b.key ? -1 : 1));
}

/** Whether the projection handles this event type. */
export function handles(p: Projection, eventType: string): boolean {
  return p.events.some((d) => d.name === eventType);
}

/** A whole projection as plain data: what both stores hold, compared by the rebuild tests. */
export interface ProjectionState {
  readonly entities: ReadonlyMap<string, Doc>;
  /** key → field → value; zero counters are absent. */
  readonly counters: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** Folds events from nothing: the entities, then the counters as the sum of their contributions. */
export function foldProjection(p: Projection, events: Iterable<AlbergueEvent>): ProjectionState {
  const entities = new Map<string, Doc>();
  for (const e of events) {
    if (!handles(p, e.event_type)) continue;
    const key = p.entityOf(e);
    if (key === undefined) continue;
    entities.set(key, p.evolve(entities.get(key), e));
  }
  return { entities, counters: countersOf(p, entities) };
}

/** The counters a set of entity documents adds up to (zero sums dropped). */
export function countersOf(p: Projection, entities: ReadonlyMap<string, Doc>): Map<string, Map<string, number>> {
  const counters = new Map<string, Map<string, number>>();
  for (const [key, doc] of entities) {
    for (const c of p.contributions(key, doc).counters) {
      const fields = counters.get(c.key) ?? new Map<string, number>();
      fields.set(c.field, (fields.get(c.field) ?? 0) + c.value);
      counters.set(c.key, fields);
    }
  }
  for (const [key, fields] of counters) {
    for (const [f, v] of fields) if (v === 0) fields.delete(f);
    if (fields.size === 0) counters.delete(key);
  }
  return counters;
}

/** The identity of a projection definition, narrowed to the document type of its evolve. */
export function defineProjection<D extends Doc>(p: Projection<D>): Projection {
  return p;
}
