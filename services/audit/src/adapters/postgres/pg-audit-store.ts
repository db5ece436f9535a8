// audit_events on Postgres (pg or PGlite): append in the inbox transaction, read by seq.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlTransaction } from '@albergue/outbox';
import type { AuditStore, EventFilter, StoredEvent } from '../../application/ports.js';

/** Key of the advisory lock that serialises appends, so seq order is commit order. */
const APPEND_LOCK = 8_106_001;

const COLUMNS = `seq, event_id, topic, event_type, event_version, aggregate_type, aggregate_id, correlation_id,
  causation_id, occurred_at, recorded_at, envelope`;

interface Row extends Record<string, unknown> {
  seq: string | number;
  event_id: string;
  topic: string;
  event_type: string;
  event_version: number;
  aggregate_type: string;
  aggregate_id: string;
  correlation_id: string;
  causation_id: string;
  occurred_at: Date | string;
  recorded_at: Date | string;
  envelope: EventEnvelope | string;
}

const isoOf = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();

function stored(r: Row): StoredEvent {
  const envelope = typeof r.envelope === 'string' ? (JSON.parse(r.envelope) as EventEnvelope) : r.envelope;
  return {
    seq: Number(r.seq),
    eventId: r.event_id,
    topic: r.topic,
    eventType: r.event_type,
    eventVersion: r.event_version,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    correlationId: r.correlation_id,
    causationId: r.causation_id,
    // As published, not as Postgres rounds it.
    occurredAt: envelope.occurred_at,
    recordedAt: isoOf(r.recorded_at),
    envelope,
  };
}

export class PgAuditStore implements AuditStore {
  constructor(private readonly db: SqlDatabase) {}

  async append(tx: SqlTransaction, e: EventEnvelope, topic: string): Promise<StoredEvent | undefined> {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
    const r = await tx.query<Row>(
      `INSERT INTO audit_events (event_id, topic, event_type, event_version, aggregate_type, aggregate_id,
         correlation_id, causation_id, occurred_at, envelope)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
       ON CONFLICT (event_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        e.event_id,
        topic,
        e.event_type,
        e.event_version,
        e.aggregate_type,
        e.aggregate_id,
        e.correlation_id,
        e.causation_id,
        e.occurred_at,
        JSON.stringify(e),
      ],
    );
    const row = r.rows[0];
    return row ? stored(row) : undefined;
  }

  async list(filter: EventFilter, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const where = ['seq > $1'];
    const params: unknown[] = [afterSeq];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.aggregateId !== undefined) add('aggregate_id = ?', filter.aggregateId);
    if (filter.eventType !== undefined) add('event_type = ?', filter.eventType);
    if (filter.correlationId !== undefined) add('correlation_id = ?', filter.correlationId);
    if (filter.from !== undefined) add('occurred_at >= ?', filter.from);
    if (filter.to !== undefined) add('occurred_at < ?', filter.to);
    params.push(limit);
    const r = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(stored);
  }

  async flow(correlationId: string, limit: number): Promise<StoredEvent[]> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM audit_events WHERE correlation_id = $1 ORDER BY seq LIMIT $2`, [
      correlationId,
      limit,
    ]);
    return r.rows.map(stored);
  }

  async correlationOfAggregate(aggregateType: string, aggregateId: string): Promise<string | undefined> {
    const r = await this.db.query<{ correlation_id: string }>(
      'SELECT correlation_id FROM audit_events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY seq LIMIT 1',
      [aggregateType, aggregateId],
    );
    return r.rows[0]?.correlation_id;
  }
}
