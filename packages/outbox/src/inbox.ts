import type { SqlDatabase, SqlExecutor, SqlTransaction } from './db/port.js';
import { isUuid, OutboxError } from './outbox.js';

/** Identifies one delivery of one event to one subscriber. */
export interface InboxKey {
  /** The consumer group (usually the service name). */
  readonly subscriber: string;
  readonly eventId: string;
  /** Logical topic, recorded for operators. */
  readonly topic: string;
  /** When the message was first received (default: now). */
  readonly receivedAt?: Date;
}

export type InboxResult<T> = { readonly status: 'processed'; readonly value: T } | { readonly status: 'duplicate' };

/**
 * The inbox runner: runs `effect` in a transaction that first inserts `(subscriber, event_id)` into
 * `inbox_events`. If the row already exists the effect already committed once, so it is skipped
 * and `{status: 'duplicate'}` comes back: the caller acks the message. If `effect` throws, nothing
 * is recorded (the insert rolls back with it) and the error propagates: the caller nacks.
 * Concurrent deliveries of one event serialise on the primary key; exactly one runs the effect.
 */
export async function runInbox<T>(db: SqlDatabase, key: InboxKey, effect: (tx: SqlTransaction) => Promise<T>): Promise<InboxResult<T>> {
  if (typeof key.subscriber !== 'string' || key.subscriber === '') throw new OutboxError('inbox: subscriber must be a non-empty string');
  if (!isUuid(key.eventId)) throw new OutboxError(`inbox: event_id ${JSON.stringify(key.eventId)} is not a UUID`);
  if (typeof key.topic !== 'string' || key.topic === '') throw new OutboxError('inbox: topic must be a non-empty string');
  return db.transaction(async (tx): Promise<InboxResult<T>> => {
    const inserted = await tx.query(
      `INSERT INTO inbox_events (subscriber, event_id, topic, received_at)
       VALUES ($1, $2, $3, coalesce($4::timestamptz, now()))
       ON CONFLICT (subscriber, event_id) DO NOTHING RETURNING 1 AS inserted`,
      [key.subscriber, key.eventId, key.topic, key.receivedAt?.toISOString() ?? null],
    );
    if (inserted.rows.length === 0) return { status: 'duplicate' };
    return { status: 'processed', value: await effect(tx) };
  });
}

/** `runInbox` bound to a database: `inbox.run(key, effect)`. */
export class Inbox {
  constructor(private readonly db: SqlDatabase) {}

  run<T>(key: InboxKey, effect: (tx: SqlTransaction) => Promise<T>): Promise<InboxResult<T>> {
    return runInbox(this.db, key, effect);
  }
}

/** The least a message handler context must carry for the inbox (the router's context has more). */
export interface InboxContext {
  readonly envelope: { readonly event_id: string };
  readonly topic: string;
  readonly subscriber: string;
}

export type Handler<C> = (ctx: C) => Promise<void>;

export interface InboxMiddlewareOptions<C> {
  /** Called when the event was already processed (the handler is skipped; the message is acked). */
  readonly onDuplicate?: (ctx: C) => void;
}

/**
 * Handler middleware: `inboxMiddleware(db)(next)` runs `next` inside the inbox transaction and
 * hands it `ctx.tx` for its writes. A duplicate skips `next` and resolves (so the router acks);
 * an error from `next` rolls back and rejects (so the router nacks).
 */
export function inboxMiddleware<C extends InboxContext>(db: SqlDatabase, options: InboxMiddlewareOptions<C> = {}) {
  return (next: Handler<C & { readonly tx: SqlExecutor }>): Handler<C> => async (ctx) => {
    const r = await runInbox(db, { subscriber: ctx.subscriber, eventId: ctx.envelope.event_id, topic: ctx.topic }, (tx) => next({ ...ctx, tx }));
    if (r.status === 'duplicate') options.onDuplicate?.(ctx);
  };
}
