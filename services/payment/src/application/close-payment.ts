import type { BookingCancelled, EnvelopeOf, ReservationExpired } from '@albergue/events';
import type { BookingEnd, CloseForEndedBooking } from '../domain/payment';
import { decide, NO_PAYMENT } from '../domain/payment';
import type { Clock, PaymentProvider, PaymentTransaction } from './ports';
import type { HandlerOutcome } from './support';
import { refundDue, saveDecision } from './support';

export interface CloseDeps {
  readonly clock: Clock;
  readonly provider: Pick<PaymentProvider, 'cancel'>;
}

/**
 * The booking ended → CloseForEndedBooking: a pending payment is voided (and the provider asked to
 * cancel the charge before the state is saved; a provider failure throws, so the message is
 * retried); a settled one gets a refund requested (`refund_due` in the outcome: call refundPayment
 * after the commit, or let the refund sweep do it); no payment yet → remembered so that a late
 * BookingReserved starts none. Runs in the caller's (inbox) transaction. Publishes nothing.
 */
async function closeFor(deps: CloseDeps, tx: PaymentTransaction, bookingId: string, because: BookingEnd, envelope: { readonly event_id: string; readonly correlation_id: string }): Promise<HandlerOutcome> {
  const existing = await tx.loadByBooking(bookingId);
  const state = existing?.state ?? NO_PAYMENT;
  const command: CloseForEndedBooking = { type: 'CloseForEndedBooking', data: { booking_id: bookingId, because, now: deps.clock.now().toISOString() } };
  const decision = decide(command, state);
  if (!decision.ok) return { status: 'ignored', ignored: decision.errors[0] };
  if (decision.ignored) return { status: 'ignored', ignored: decision.ignored };
  if (state.status === 'initiated' && decision.events.some((e) => e.type === 'PaymentVoided')) {
    await deps.provider.cancel({ payment_id: state.payment.payment_id });
  }
  const saved = await saveDecision(tx, state, decision.events, {
    correlation_id: existing?.correlation_id ?? envelope.correlation_id,
    causation_id: existing?.last_event_id ?? envelope.event_id,
  });
  const due = refundDue(saved.state);
  return due ? { status: 'applied', events: saved.envelopes, refund_due: due } : { status: 'applied', events: saved.envelopes };
}

/** BookingCancelled (guest_request, payment_failed or admin) → close the booking's payment. */
export function closePaymentOnBookingCancelled(deps: CloseDeps, tx: PaymentTransaction, envelope: EnvelopeOf<typeof BookingCancelled>): Promise<HandlerOutcome> {
  return closeFor(deps, tx, envelope.payload.booking_id, 'booking_cancelled', envelope);
}

/** ReservationExpired → close the booking's payment. */
export function closePaymentOnReservationExpired(deps: CloseDeps, tx: PaymentTransaction, envelope: EnvelopeOf<typeof ReservationExpired>): Promise<HandlerOutcome> {
  return closeFor(deps, tx, envelope.payload.booking_id, 'booking_expired', envelope);
}
