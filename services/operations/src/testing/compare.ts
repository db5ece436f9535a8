// Projections as plain sorted objects, so two stores (or a store and a fold) compare with deepEqual.
import type { ProjectionState } from '../domain/projection.js';
import { canonical } from '../application/apply-event.js';

const byKey = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function plainState(s: ProjectionState): { entities: Record<string, unknown>; counters: Record<string, Record<string, number>> } {
  return {
    entities: Object.fromEntries(byKey(s.entities).map(([k, d]) => [k, canonical(d)])),
    counters: Object.fromEntries(byKey(s.counters).map(([k, f]) => [k, Object.fromEntries(byKey(f))])),
  };
}
