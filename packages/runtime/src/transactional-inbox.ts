import type { HandlerContext, Middleware } from '@albergue/messaging';
import type { Outbox, SqlDatabase, SqlTransaction } from '@albergue/outbox';
import { runInbox } from '@albergue/outbox';

const TX = Symbol('albergue.tx');

/**
 * Runs each handler inside one Postgres transaction that (1) inserts (subscriber, event_id) into
 * inbox_events — a conflict means the effect already happened, so the handler is skipped and the
 * router acks — and (2) appends the events the handler emitted to the outbox. Effect, inbox row and
 * emitted events commit together or not at all (ARCHITECTURE §3, steps 7–8).
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
