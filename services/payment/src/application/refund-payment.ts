import type { RecordRefund } from '../domain/payment';
import { decide, NO_PAYMENT } from '../domain/payment';
import type { Clock, PaymentProvider, PaymentRepository } from './ports';
import type { HandlerOutcome } from './support';
import { saveDecision } from './support';

export interface RefundDeps {
  readonly repo: PaymentRepository;
  readonly clock: Clock;
  readonly provider: Pick<PaymentProvider, 'refund'>;
}

/**
 * Carries out a pending refund: asks the provider (outside any transaction; idempotent by
 * payment_id, so a retry never refunds twice), then records PaymentRefunded. A provider failure
 * throws and leaves the refund pending for the next attempt.
 */
export async function refundPayment(deps: RefundDeps, paymentId: string): Promise<HandlerOutcome> {
  const record = await deps.repo.transaction((tx) => tx.loadByPayment(paymentId));
  const state = record?.state ?? NO_PAYMENT;
  if (state.status !== 'refund_pending') {
    return { status: 'ignored', ignored: { code: 'no_refund_pending', reason: `payment ${paymentId} has no refund pending (${state.status})` } };
  }
  const { refund_reference } = await deps.provider.refund({ payment_id: paymentId, provider_reference: state.provider_reference, amount: state.payment.amount });
  return deps.repo.transaction(async (tx): Promise<HandlerOutcome> => {
    const current = await tx.loadByPayment(paymentId);
    const now = current?.state ?? NO_PAYMENT;
    const command: RecordRefund = { type: 'RecordRefund', data: { payment_id: paymentId, refund_reference, now: deps.clock.now().toISOString() } };
    const decision = decide(command, now);
    if (!decision.ok) return { status: 'ignored', ignored: decision.errors[0] };
    if (decision.ignored || !current) return { status: 'ignored', ignored: decision.ignored ?? { code: 'no_refund_pending', reason: 'gone' } };
    const saved = await saveDecision(tx, now, decision.events, { correlation_id: current.correlation_id, causation_id: current.last_event_id });
    return { status: 'applied', events: saved.envelopes };
  });
}

/** One sweep of the refund scheduler: retries up to `limit` pending refunds; returns how many completed. */
export async function refundPendingPayments(deps: RefundDeps, limit = 50): Promise<number> {
  let done = 0;
  for (const paymentId of await deps.repo.pendingRefunds(limit)) {
    try {
      if ((await refundPayment(deps, paymentId)).status === 'applied') done++;
    } catch {
      // The provider is unavailable: the refund stays pending for the next sweep.
    }
  }
  return done;
}
