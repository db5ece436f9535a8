import type { EnvelopeOf, PaymentFailed } from '@albergue/events';
import type { CancelForFailedPayment } from '../domain/booking.js';
import { decide, NO_BOOKING } from '../domain/booking.js';
import type { BookingTransaction, Clock } from './ports.js';
import type { DecisionLog, HandlerOutcome } from '@albergue/application';
import { ignoredOutcome } from '@albergue/application';
import { saveBookingDecision } from './support.js';

/**
 * PaymentFailed → CancelForFailedPayment → BookingCancelled(payment_failed), beds released; only a
 * reserved booking is cancelled (a stale or duplicate failure is a no-op). Runs in the caller's
 * (inbox) transaction; the event inherits the payment's correlation and names it as its cause.
 */
export async function cancelBookingOnPaymentFailed(
  deps: { readonly clock: Clock; readonly decisions?: DecisionLog },
  tx: BookingTransaction,
  envelope: EnvelopeOf<typeof PaymentFailed>,
): Promise<HandlerOutcome> {
  const p = envelope.payload;
  const command: CancelForFailedPayment = {
    type: 'CancelForFailedPayment',
    data: { booking_id: p.booking_id, payment_id: p.payment_id, now: deps.clock.now().toISOString() },
  };
  const existing = await tx.loadBooking(p.booking_id);
  const state = existing?.state ?? NO_BOOKING;
  const decision = decide(command, { booking: state });
  if (!decision.ok || decision.ignored)
    return ignoredOutcome(deps.decisions, command.type, decision, {
      booking_id: p.booking_id,
      payment_id: p.payment_id,
      event_id: envelope.event_id,
      correlation_id: envelope.correlation_id,
    });
  const { envelopes } = await saveBookingDecision(tx, state, decision.events, {
    correlation_id: envelope.correlation_id,
    causation_id: envelope.event_id,
  });
  return { status: 'applied', events: envelopes };
}
