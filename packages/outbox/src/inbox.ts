import type { HandlerContext, Middleware } from '@albergue/messaging';
import type { SqlDatabase, SqlTransaction } from './db/port.js';
import type { Outbox } from './outbox.js';
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

const TX = Symbol('albergue.tx');

/**
 * The inbox of every service handler (the runtime installs it): runs each handler inside one
 * transaction that (1) inserts (subscriber, event_id) into inbox_events — a conflict means the effect
 * already happened, so the handler is skipped and the router acks — and (2) appends the events the
 * handler emitted to the outbox. Effect, inbox row and emitted events commit together or not at all
 * (ARCHITECTURE §3, steps 7–8); a handler that throws rolls all three back and the router nacks.
 */
export function transactionalInbox(db: SqlDatabase, outbox: Outbox): Middleware {
  return (next) => async (ctx) => {
    const r = await runInbox(db, { subscriber: ctx.subscriber, eventId: ctx.event.event_id, topic: ctx.topic }, async (tx) => {
      ctx.locals.set(TX, tx);
      try {
        await next(ctx);
        const emitted = ctx.takeEmitted();
        if (emitted.length > 0) await outbox.append(tx, emitted);
      } finally {
        ctx.locals.delete(TX);
      }
    });
    if (r.status === 'duplicate') ctx.markDuplicate();
  };
}

/** The transaction the inbox opened for this handler. */
export function transactionOf(ctx: HandlerContext): SqlTransaction {
  const tx = ctx.locals.get(TX) as SqlTransaction | undefined;
  if (!tx) throw new Error(`${ctx.handler}: no inbox transaction (the runtime installs transactionalInbox for every handler)`);
  return tx;
}
