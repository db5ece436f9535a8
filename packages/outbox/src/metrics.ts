import { eventsPublishedCounter } from '@albergue/messaging';
import { Gauge } from 'prom-client';
import type { Counter, Registry } from 'prom-client';
import type { SqlExecutor } from './db/port.js';

export interface OutboxMetrics {
  /** Events the broker acknowledged, by logical topic. */
  readonly published: Counter<'service' | 'topic'>;
}

/**
 * Registers on `registry`: messaging's `events_published_total` (the relay counts it by topic), and,
 * read from the database at each scrape, `outbox_lag_seconds` (age of the oldest unpublished row; 0
 * when none) and `outbox_backlog` (unpublished rows). Idempotent per registry.
 */
export function outboxMetrics(registry: Registry, db: SqlExecutor): OutboxMetrics {
  const published = eventsPublishedCounter(registry);
  const read = async () => {
    const r = await db.query<{ lag: number | null; backlog: number }>(
      `SELECT extract(epoch FROM now() - min(created_at))::float8 AS lag, count(*)::int AS backlog
         FROM outbox_events WHERE published_at IS NULL`,
    );
    return { lag: Math.max(0, r.rows[0]?.lag ?? 0), backlog: r.rows[0]?.backlog ?? 0 };
  };
  getOrCreate(
    registry,
    'outbox_lag_seconds',
    () =>
      new Gauge({
        name: 'outbox_lag_seconds',
        help: 'Age of the oldest unpublished outbox row, in seconds (0 when the outbox is drained).',
        registers: [registry],
        async collect() {
          this.set((await read()).lag);
        },
      }),
  );
  getOrCreate(
    registry,
    'outbox_backlog',
    () =>
      new Gauge({
        name: 'outbox_backlog',
        help: 'Outbox rows not yet published.',
        registers: [registry],
        async collect() {
          this.set((await read()).backlog);
        },
      }),
  );
  return { published };
}

function getOrCreate<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}
