// Rebuilds projections from the recorded events (the audit trail, through the EventHistory port):
// one pass over the history folds every requested projection in memory (order-independent folds, so
// recording order is as good as any), then per projection: the shadow storage is filled, swapped in
// with the journal's newer events (one Postgres transaction), and the live store resynced from it.
import type { AlbergueEvent } from '@albergue/events';
import { parseEnvelope } from '@albergue/events';
import type { Doc, Projection, ProjectionState } from '../domain/projection.js';
import { countersOf, handles } from '../domain/projection.js';
import type { LiveProjections } from './live-sync.js';
import type { EventHistory } from './ports.js';
import { HistoryUnavailable } from './ports.js';

export interface RebuildProgress {
  readonly pages: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly elapsedMs: number;
}

export interface RebuildReport {
  readonly projection: string;
  /** Events of the history the projection applied. */
  readonly events: number;
  /** Events received live while the history was read that the swap added. */
  readonly caughtUp: number;
  readonly entities: number;
  readonly liveResynced: boolean;
}

export interface RebuildSummary {
  readonly pages: number;
  readonly events: number;
  /** Recorded events that are not valid envelopes (skipped, counted). */
  readonly invalid: number;
  readonly elapsedMs: number;
  readonly projections: readonly RebuildReport[];
}

/** What the rebuild needs of the Postgres store. */
export interface ShadowStore {
  writeShadow(p: Projection, state: ProjectionState, appliedEventIds: readonly string[]): Promise<void>;
  swapShadow(p: Projection, rebuiltEvents: number): Promise<number>;
}

export interface RebuildDeps {
  readonly history: EventHistory;
  readonly store: ShadowStore;
  readonly live: LiveProjections;
  readonly pageSize?: number;
  readonly onProgress?: (p: RebuildProgress) => void;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
}

export async function rebuildProjections(deps: RebuildDeps, projections: readonly Projection[]): Promise<RebuildSummary> {
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const entities = new Map(projections.map((p) => [p.name, new Map<string, Doc>()]));
  const applied = new Map(projections.map((p) => [p.name, [] as string[]]));
  const seen = new Set<string>();
  let cursor: string | null = null;
  let pages = 0;
  let events = 0;
  let invalid = 0;
  do {
    const page = await deps.history.page(cursor, deps.pageSize ?? 1000);
    pages++;
    for (const item of page.items) {
      const r = parseEnvelope(item.envelope);
      if (!r.ok) {
        invalid++;
        continue;
      }
      const e = r.event as AlbergueEvent;
      if (seen.has(e.event_id)) continue;
      seen.add(e.event_id);
      events++;
      for (const p of projections) {
        if (!handles(p, e.event_type)) continue;
        const key = p.entityOf(e);
        if (key === undefined) continue;
        const docs = entities.get(p.name)!;
        docs.set(key, p.evolve(docs.get(key), e));
        applied.get(p.name)!.push(e.event_id);
      }
    }
    const elapsedMs = now() - started;
    deps.onProgress?.({ pages, events, elapsedMs, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : events });
    if (page.next_cursor !== null && page.next_cursor === cursor)
      throw new HistoryUnavailable(`${deps.history.source} returned the same cursor twice (${cursor}); refusing to loop`);
    cursor = page.next_cursor;
  } while (cursor !== null);

  const reports: RebuildReport[] = [];
  for (const p of projections) {
    const docs = entities.get(p.name)!;
    const ids = applied.get(p.name)!;
    await deps.store.writeShadow(p, { entities: docs, counters: countersOf(p, docs) }, ids);
    const caughtUp = await deps.store.swapShadow(p, ids.length);
    const liveResynced = await deps.live.resync(p).catch(() => false);
    reports.push({ projection: p.name, events: ids.length, caughtUp, entities: docs.size, liveResynced });
  }
  return { pages, events, invalid, elapsedMs: now() - started, projections: reports };
}
