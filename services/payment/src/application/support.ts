// What payment's handlers share: its envelope mapping, how a decision is stored, the query view.
import type { HandlerOutcome as KitOutcome, SavedDecision } from '@albergue/application';
import { envelopeMapping, saveDecision, uuidV7Ids } from '@albergue/application';
import { assertNever } from '@albergue/decider';
import { PaymentConfirmed, PaymentFailed, PaymentInitiated, PaymentRefunded } from '@albergue/events';
import type { PaymentEvent, PaymentState } from '../domain/payment.js';
import { evolve, isPublic } from '../domain/payment.js';
import type { PaymentRecord, PaymentTransaction, PaymentView } from './ports.js';

/** An event handler's answer; `refund_due` is set when the decision asked for a refund: call refundPayment after the commit (the sweep does it otherwise). */
export type HandlerOutcome = KitOutcome<{ readonly refund_due?: string }>;

const toPublicEnvelope = envelopeMapping({ PaymentInitiated, PaymentConfirmed, PaymentFailed, PaymentRefunded });
// The internal events (e.g. RefundRequested) live in the stored state only.
const paymentModel = {
  evolve,
  toEnvelope: (event: PaymentEvent, meta: Parameters<typeof toPublicEnvelope>[1]) =>
    isPublic(event) ? toPublicEnvelope(event, meta) : undefined,
};

/**
 * Evolves the payment through `events`, stores it and appends its public events to the outbox, all
 * in `tx`. The first public event joins the flow `correlation_id` and is caused by `causation_id`;
 * the next ones chain on it. Each RefundRequested becomes a refund row (one per charge) that the
 * refund sweep carries out.
 */
export async function savePaymentDecision(
  tx: PaymentTransaction,
  before: PaymentState,
  events: readonly PaymentEvent[],
  causality: { readonly correlation_id: string; readonly causation_id: string },
): Promise<SavedDecision<PaymentState, PaymentRecord>> {
  return saveDecision(tx, paymentModel, before, events, causality, async ({ after, last_event_id }) => {
    if (after.status === 'none') return undefined;
    const record: PaymentRecord = {
      state: after,
      correlation_id: causality.correlation_id,
      last_event_id: last_event_id ?? causality.causation_id,
    };
    await tx.save(record);
    for (const event of events) {
      if (event.type !== 'RefundRequested') continue;
      const r = event.data;
      await tx.requestRefund({
        refund_id: uuidV7Ids(),
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
    return record;
  });
}

export function refundDue(state: PaymentState): string | undefined {
  return state.status === 'refund_pending' ? state.payment.payment_id : undefined;
}

export function paymentView(state: PaymentRecord['state']): PaymentView | undefined {
  if (state.status === 'booking_ended') return undefined;
  const p = state.payment;
  const base = {
    payment_id: p.payment_id,
    booking_id: p.booking_id,
    status: state.status,
    amount: { ...p.amount },
    provider: p.provider,
    initiated_at: p.initiated_at,
  };
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
      return {
        ...base,
        provider_reference: state.provider_reference,
        refund_reference: state.refund_reference,
        refunded_at: state.refunded_at,
      };
    default:
      return assertNever(state);
  }
}
