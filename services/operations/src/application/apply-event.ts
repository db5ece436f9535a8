// Applies one event to one projection's Postgres rows inside a transaction: claims the event for the
// projection (a duplicate changes nothing), folds the entity, and moves the counters by the change of
// its contributions. Returns the rows it changed, to copy into the live store after commit.
import { NO_CONTRIBUTIONS, counterDeltas, handles } from '../domain/projection.js';
import type { Projection } from '../domain/projection.js';
import type { ProjectedEvent, ProjectionTransaction, RowChanges } from './ports.js';

export async function applyEvent(
  tx: ProjectionTransaction,
  p: Projection,
  storage: string,
  event: ProjectedEvent,
): Promise<RowChanges | undefined> {
  if (!handles(p, event.event_type)) return undefined;
  const key = p.entityOf(event);
  if (key === undefined) return undefined;
  if (!(await tx.claim(storage, event.event_id))) return undefined;
  const before = await tx.loadEntity(storage, key);
  const after = p.evolve(before, event);
  if (before !== undefined && JSON.stringify(canonical(before)) === JSON.stringify(canonical(after))) return undefined;
  const contributed = p.contributions(key, after);
  const version = await tx.saveEntity(storage, key, after, contributed.indexes);
  const deltas = counterDeltas(before === undefined ? NO_CONTRIBUTIONS : p.contributions(key, before), contributed);
  const counters = deltas.length > 0 ? await tx.addToCounters(storage, deltas) : [];
  return { entities: [{ key, doc: after, version, indexes: contributed.indexes }], counters };
}

/** The same JSON with object keys sorted (jsonb does not keep key order). */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  return value;
}
