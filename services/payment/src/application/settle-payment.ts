import type { SettlePayment } from '../domain/payment';
import { decide, NO_PAYMENT } from '../domain/payment';
import type { Clock, PaymentProvider, PaymentRepository, PaymentView, ProviderSettlement } from './ports';
import { refundPayment } from './refund-payment';
import type { CommandResult } from './support';
import { paymentView, saveDecision } from './support';

/**
 * The provider's callback settles a payment → PaymentConfirmed or PaymentFailed, caused by
 * PaymentInitiated, in the booking's flow. Idempotent: the same callback again emits nothing and
 * answers ok (so the provider stops retrying). A success for a payment voided because its booking
 * ended (or after a failure) confirms nothing and refunds instead: the refund is attempted right
 * after the commit, and `refundPendingPayments` retries it if the provider is unavailable.
 * Unknown payment → payment_not_found (the HTTP layer answers 404).
 */
export async function settlePayment(
  deps: { readonly repo: PaymentRepository; readonly clock: Clock; readonly provider: PaymentProvider },
  settlement: ProviderSettlement,
): Promise<CommandResult<PaymentView | undefined>> {
  const command: SettlePayment = { type: 'SettlePayment', data: { ...settlement, now: deps.clock.now().toISOString() } };
  const result = await deps.repo.transaction(async (tx): Promise<CommandResult<PaymentView | undefined>> => {
    const record = await tx.loadByPayment(settlement.payment_id);
    const state = record?.state ?? NO_PAYMENT;
    const decision = decide(command, state);
    if (!decision.ok) return decision;
    if (!record || decision.events.length === 0) return { ok: true, value: record && paymentView(record.state), events: [] };
    const saved = await saveDecision(tx, state, decision.events, { correlation_id: record.correlation_id, causation_id: record.last_event_id });
    return { ok: true, value: saved.state.status === 'none' ? undefined : paymentView(saved.state), events: saved.envelopes };
  });
  if (result.ok && result.value?.status === 'refund_pending') {
    await refundPayment(deps, result.value.payment_id).catch(() => undefined); // retried by the refund sweep
  }
  return result;
}
