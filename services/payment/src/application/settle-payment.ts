import type { SettlePayment } from '../domain/payment.js';
import { decide, NO_PAYMENT } from '../domain/payment.js';
import type { Clock, PaymentRepository, PaymentView, ProviderSettlement } from './ports.js';
import type { CommandResult, DecisionLog } from '@albergue/application';
import { paymentView, savePaymentDecision } from './support.js';

/**
 * The provider's settlement of a charge (its callback, or the recovery sweep's lookup) settles the
 * payment → PaymentConfirmed or PaymentFailed, caused by PaymentInitiated, in the booking's flow, and
 * closes the charge attempt it belongs to, in one transaction. Idempotent: the same settlement again
 * emits nothing and answers ok (so the provider stops retrying). A success that settles nothing
 * (payment voided because its booking ended, failed before, or already settled by another charge)
 * confirms nothing and requests a refund of that charge instead; the refund sweep carries it out.
 * Unknown payment → payment_not_found (the HTTP layer answers 404).
 */
export async function settlePayment(
  deps: { readonly repo: PaymentRepository; readonly clock: Clock; readonly decisions?: DecisionLog },
  settlement: ProviderSettlement,
): Promise<CommandResult<PaymentView | undefined>> {
  const command: SettlePayment = {
    type: 'SettlePayment',
    data: {
      payment_id: settlement.payment_id,
      provider_reference: settlement.provider_reference,
      outcome: settlement.outcome,
      now: deps.clock.now().toISOString(),
    },
  };
  return deps.repo.transaction(async (tx): Promise<CommandResult<PaymentView | undefined>> => {
    const record = await tx.loadByPayment(settlement.payment_id);
    const state = record?.state ?? NO_PAYMENT;
    const decision = decide(command, state);
    if (!decision.ok) return decision;
    await tx.settleAttempts({
      payment_id: settlement.payment_id,
      provider_reference: settlement.provider_reference,
      idempotency_key: settlement.idempotency_key,
      status: settlement.outcome.status,
      reason_code: settlement.outcome.status === 'failed' ? settlement.outcome.reason_code : undefined,
    });
    if (decision.ignored)
      deps.decisions?.ignored({
        decision: command.type,
        ignored: decision.ignored,
        refs: { payment_id: settlement.payment_id, provider_reference: settlement.provider_reference },
      });
    if (!record || decision.events.length === 0) return { ok: true, value: record && paymentView(record.state), events: [] };
    const saved = await savePaymentDecision(tx, state, decision.events, {
      correlation_id: record.correlation_id,
      causation_id: record.last_event_id,
    });
    return { ok: true, value: saved.after.status === 'none' ? undefined : paymentView(saved.after), events: saved.envelopes };
  });
}
