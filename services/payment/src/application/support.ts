import type { EventEnvelope, EventMeta } from '@albergue/events';
import { newEnvelope, newEventId, PaymentConfirmed, PaymentFailed, PaymentInitiated, PaymentRefunded } from '@albergue/events';
import type { PaymentEvent, PaymentState, PublicPaymentEvent } from '../domain/payment.js';
import { evolve, isPublic } from '../domain/payment.js';
import type { DomainError, Errors } from '@albergue/decider';
import { assertNever } from '@albergue/decider';
import type { PaymentRecord, PaymentTransaction, PaymentView } from './ports.js';

export type CommandResult<V> =
  | { readonly ok: true; readonly value: V; readonly events: readonly EventEnvelope[] }
  | { readonly ok: false; readonly errors: Errors };

/** An event handler's answer; `ignored` is a deliberate no-op (the message is acked). */
export type HandlerOutcome =
  | {
      readonly status: 'applied';
      readonly events: readonly EventEnvelope[];
      /** Set when the decision asked for a refund: call refundPayment after the commit (the sweep does it otherwise). */
      readonly refund_due?: string;
    }
  | { readonly status: 'ignored'; readonly ignored: DomainError };

export function toEnvelope(event: PublicPaymentEvent, meta: EventMeta): EventEnvelope {
  switch (event.type) {
    case 'PaymentInitiated':
      return newEnvelope(PaymentInitiated, event.data, meta);
    case 'PaymentConfirmed':
      return newEnvelope(PaymentConfirmed, event.data, meta);
    case 'PaymentFailed':
      return newEnvelope(PaymentFailed, event.data, meta);
    case 'PaymentRefunded':
      return newEnvelope(PaymentRefunded, event.data, meta);
    default:
      return assertNever(event);
  }
}

/**
 * Evolves the payment through `events`, stores it and appends its public events to the outbox (the
 * internal ones live in the stored state only), all in `tx`. The first public event joins the flow
 * `correlation_id` and is caused by `causation_id`; the next ones chain on it. Each RefundRequested
 * becomes a refund row (one per charge) that the refund sweep carries out.
 */
export async function saveDecision(
  tx: PaymentTransaction,
  before: PaymentState,
  events: readonly PaymentEvent[],
  causality: { readonly correlation_id: string; readonly causation_id: string },
): Promise<{ envelopes: EventEnvelope[]; state: PaymentState }> {
  const after = events.reduce(evolve, before);
  if (after.status === 'none' || events.length === 0) return { envelopes: [], state: after };
  const envelopes: EventEnvelope[] = [];
  let cause = causality.causation_id;
  for (const event of events.filter(isPublic)) {
    const envelope = toEnvelope(event, { event_id: newEventId(), correlation_id: causality.correlation_id, causation_id: cause });
    envelopes.push(envelope);
    cause = envelope.event_id;
  }
  await tx.save({ state: after, correlation_id: causality.correlation_id, last_event_id: cause });
  await tx.appendToOutbox(envelopes);
  for (const event of events) {
    if (event.type !== 'RefundRequested') continue;
    const r = event.data;
    await tx.requestRefund({
      refund_id: newEventId(),
      payment_id: r.payment_id,
      booking_id: r.booking_id,
      provider_reference: r.provider_reference,
      amount: { amount_minor: r.amount.amount_minor, currency: r.amount.currency },
      reason: r.because,
      status: 'pending',
      attempts: 0,
      next_attempt_at: r.requested_at,
      requested_at: r.requested_at,
    });
  }
  return { envelopes, state: after };
}

export function refundDue(state: PaymentState): string | undefined {
  return state.status === 'refund_pending' ? state.payment.payment_id : undefined;
}

export function paymentView(state: PaymentRecord['state']): PaymentView | undefined {
  if (state.status === 'booking_ended') return undefined;
  const p = state.payment;
  const base = { payment_id: p.payment_id, booking_id: p.booking_id, status: state.status, amount: { ...p.amount }, provider: p.provider, initiated_at: p.initiated_at };
  switch (state.status) {
    case 'initiated':
      return base;
    case 'confirmed':
      return { ...base, provider_reference: state.provider_reference, confirmed_at: state.confirmed_at };
    case 'failed':
      return { ...base, reason_code: state.reason_code, reason: state.reason, failed_at: state.failed_at };
    case 'voided':
      return { ...base, voided_at: state.voided_at };
    case 'refund_pending':
      return { ...base, provider_reference: state.provider_reference };
    case 'refunded':
      return { ...base, provider_reference: state.provider_reference, refund_reference: state.refund_reference, refunded_at: state.refunded_at };
    default:
      return assertNever(state);
  }
}
