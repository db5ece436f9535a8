import { chargeable, NO_PAYMENT } from '../domain/payment';
import type { PaymentProvider, PaymentRepository } from './ports';
import type { CommandResult } from './support';

export interface ChargePaymentInput {
  readonly payment_id: string;
  /** Test card number (simulated network) or provider token. */
  readonly payment_method: string;
}

export interface ChargeAccepted {
  readonly payment_id: string;
  readonly provider_reference: string;
  /** The outcome arrives through the provider callback; poll the payment or the booking. */
  readonly status: 'processing';
}

/**
 * The guest pays an open payment: the provider is asked to charge it (idempotent by payment_id, so a
 * double click charges once). Emits nothing: PaymentConfirmed / PaymentFailed come from the
 * provider's settlement callback. Refused when the payment is unknown (payment_not_found), no
 * longer open (payment_not_open: settled, or voided because the booking ended) or when the provider
 * refuses the payment method (payment_method_rejected: nothing charged, try again).
 * The provider call happens outside any transaction.
 */
export async function chargePayment(
  deps: { readonly repo: PaymentRepository; readonly provider: PaymentProvider },
  input: ChargePaymentInput,
): Promise<CommandResult<ChargeAccepted>> {
  const record = await deps.repo.transaction((tx) => tx.loadByPayment(input.payment_id));
  const state = record?.state ?? NO_PAYMENT;
  const refused = chargeable(state);
  if (refused) return { ok: false, errors: [refused] };
  if (state.status !== 'initiated') throw new Error('unreachable: chargeable payment not initiated');
  const p = state.payment;
  const answer = await deps.provider.charge({ payment_id: p.payment_id, booking_id: p.booking_id, amount: p.amount, payment_method: input.payment_method });
  if (answer.status === 'rejected') return { ok: false, errors: [{ code: 'payment_method_rejected', reason: answer.reason }] };
  return { ok: true, value: { payment_id: p.payment_id, provider_reference: answer.provider_reference, status: 'processing' }, events: [] };
}
