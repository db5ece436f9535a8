import type { EnvelopeOf, PaymentConfirmed } from '@albergue/events';
import type { ConfirmBooking } from '../domain/booking.js';
import { decide, NO_BOOKING } from '../domain/booking.js';
import type { BookingTransaction, Clock } from './ports.js';
import type { DecisionLog, HandlerOutcome } from '@albergue/application';
import { ignoredOutcome } from '@albergue/application';
import { saveBookingDecision } from './support.js';

/**
 * PaymentConfirmed → ConfirmBooking → BookingConfirmed, only while the booking is still reserved and
 * its hold has not ended. A payment after the hold expires the booking (ReservationExpired, even
 * before the expiry sweep gets to it); one for a booking already expired or cancelled changes nothing
 * and emits nothing. Payment refunds both on the ReservationExpired / BookingCancelled. A duplicate
 * PaymentConfirmed is a no-op too. Runs in the caller's (inbox) transaction; the new event
 * inherits the payment's correlation_id and names it as its cause.
 */
export async function confirmBookingOnPaymentConfirmed(
  deps: { readonly clock: Clock; readonly decisions?: DecisionLog },
  tx: BookingTransaction,
  envelope: EnvelopeOf<typeof PaymentConfirmed>,
): Promise<HandlerOutcome> {
  const p = envelope.payload;
  const command: ConfirmBooking = {
    type: 'ConfirmBooking',
    data: {
      booking_id: p.booking_id,
      payment_id: p.payment_id,
      amount: p.amount,
      now: deps.clock.now().toISOString(),
      paid_at: p.confirmed_at,
    },
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
