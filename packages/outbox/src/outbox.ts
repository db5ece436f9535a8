import type { EventEnvelope } from '@albergue/events';
import { events } from '@albergue/events';
import type { SqlDatabase, SqlTransaction } from './db/port.js';
import { OUTBOX_NOTIFY_CHANNEL } from './migrations/sql.js';

export class OutboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxError';
  }
}

/**
 * The wake-up: its own tiny transaction, committed without waiting for the WAL flush (a NOTIFY takes a
 * transaction id, so a plain one costs a synchronous commit — an fsync — per notification; 8-client
 * command benchmark, median of 7: 87.5% → 91.7% of the raw two-insert rate). Losing one in a crash
 * only delays the relays to their next poll.
 */
const NOTIFY_SQL = `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')`;

/**
 * Notifications from one Outbox are at least this far apart (the first after a quiet spell goes at
 * once). Under a stream of commits the one-in-flight coalescing alone sent a NOTIFY transaction for
 * nearly every command; busy relays do not need them (they claim again while claims return rows).
 */
const NOTIFY_MIN_GAP_MS = 10;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/**
 * The write side of the transactional outbox. A command handler calls `append` with the
 * transaction that changes its aggregate, so the events exist exactly when the change commits:
 *
 *   const outbox = new Outbox(db);
 *   await db.transaction(async (tx) => { await saveBooking(tx, …); await outbox.append(tx, [event]); });
 *
 * After the commit it wakes the relays (NOTIFY, at most one in flight per Outbox and one per 10 ms,
 * committed asynchronously: a burst of commits costs a few cheap notifications, not one each). A lost
 * notification (crash right after the commit, LISTEN connection down) only delays publishing until
 * the relays' next poll.
 *
 * Order: rows get increasing ids in append order; the relay publishes each aggregate's rows in id
 * order. Append after the statement that locks/updates the aggregate row, so that concurrent
 * commands on one aggregate take ids in commit order.
 */
export class Outbox {
  private notifying = false;
  private notifyAgain = false;
  private lastNotifyAt = 0;

  constructor(
    private readonly db: SqlDatabase,
    private readonly onNotifyError: (err: unknown) => void = () => undefined,
  ) {}

  /**
   * Inserts the envelopes (in order) in `tx`. Throws `OutboxError` for an envelope that is not a
   * known event (unknown type/version, missing ids) and a database error for a duplicate event_id;
   * either way the caller's transaction should roll back.
   */
  async append(tx: SqlTransaction, envelopes: readonly EventEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    const params: unknown[] = [];
    const values: string[] = [];
    for (const e of envelopes) {
      const topic = topicOf(e);
      const n = params.length;
      values.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}::jsonb)`);
      params.push(e.event_id, topic, e.aggregate_type, e.aggregate_id, JSON.stringify(e));
    }
    await tx.query(
      `INSERT INTO outbox_events (event_id, topic, aggregate_type, aggregate_id, envelope) VALUES ${values.join(', ')}`,
      params,
    );
    tx.afterCommit(this.wakeRelays);
  }

  private readonly wakeRelays = (): void => {
    if (this.notifying) {
      this.notifyAgain = true; // commits during an in-flight NOTIFY get one more after it
      return;
    }
    this.notifying = true;
    this.notifyAgain = false;
    const send = (): void => {
      this.lastNotifyAt = Date.now();
      this.db
        .query(NOTIFY_SQL, [OUTBOX_NOTIFY_CHANNEL])
        .catch(this.onNotifyError)
        .finally(() => {
          this.notifying = false;
          if (this.notifyAgain) this.wakeRelays();
        });
    };
    const wait = this.lastNotifyAt + NOTIFY_MIN_GAP_MS - Date.now();
    if (wait <= 0) send();
    else setTimeout(send, wait).unref(); // a burst of commits: one NOTIFY per gap, not one per commit
  };
}

/** The logical topic of an envelope, or an OutboxError saying what is wrong with it. */
function topicOf(e: EventEnvelope): string {
  // Envelopes may come from untyped code: check what the relay and consumers depend on.
  const input = e as Partial<Record<keyof EventEnvelope, unknown>> | null | undefined;
  if (typeof input !== 'object' || input === null) throw new OutboxError('outbox.append: an envelope must be an object');
  if (!isUuid(input.event_id)) throw new OutboxError(`outbox.append: event_id ${JSON.stringify(input.event_id)} is not a UUID`);
  if (typeof input.aggregate_type !== 'string' || input.aggregate_type === '')
    throw new OutboxError(`outbox.append: event ${input.event_id} has no aggregate_type`);
  if (typeof input.aggregate_id !== 'string' || input.aggregate_id === '')
    throw new OutboxError(`outbox.append: event ${input.event_id} has no aggregate_id`);
  const def =
    typeof input.event_type === 'string' && typeof input.event_version === 'number'
      ? events.definition(input.event_type, input.event_version)
      : undefined;
  if (!def)
    throw new OutboxError(
      `outbox.append: event ${input.event_id} has unknown type ${String(input.event_type)} v${String(input.event_version)}`,
    );
  return def.topic;
}
