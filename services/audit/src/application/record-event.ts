// recordOnAnyEvent: every albergue event (audit's wildcard subscription) is appended to the trail
// once, and AuditLogged goes to the outbox in the same inbox transaction.
import { AuditLogged } from '@albergue/events';
import type { HandlerContext } from '@albergue/messaging';
import type { SqlTransaction } from '@albergue/outbox';
import type { AuditStore } from './ports.js';

export interface RecordDeps {
  readonly store: AuditStore;
}

/** Outcome for logs and tests: stored (with its seq), already stored, or refused (audit's own event). */
export type RecordOutcome = { readonly status: 'recorded'; readonly seq: number } | { readonly status: 'duplicate' | 'own_event' };

export async function recordOnAnyEvent(deps: RecordDeps, ctx: HandlerContext, tx: SqlTransaction): Promise<RecordOutcome> {
  const event = ctx.event;
  // The declaration excepts AuditLogged and the subscriber skips it at receipt; should one still come
  // (a replay by hand), it is neither stored nor answered: auditing the audit would never end.
  if (event.event_type === AuditLogged.name) return { status: 'own_event' };
  const stored = await deps.store.append(tx, event, ctx.topic);
  if (!stored) {
    ctx.log.info('already in the audit trail');
    return { status: 'duplicate' };
  }
  ctx.emit(AuditLogged, {
    audit_id: String(stored.seq),
    audited_event_id: event.event_id,
    audited_event_type: event.event_type,
    topic: stored.topic,
    correlation_id: event.correlation_id,
    logged_at: stored.recordedAt,
  });
  return { status: 'recorded', seq: stored.seq };
}
