import type { BookingCancelled, EnvelopeOf, ReservationExpired } from '@albergue/events';
import type { BookingEnd, CloseForEndedBooking } from '../domain/payment.js';
import { decide, NO_PAYMENT } from '../domain/payment.js';
import type { Clock, PaymentProvider, PaymentTransaction } from './ports.js';
import type { DecisionLog } from '@albergue/application';
import { ignoredOutcome } from '@albergue/application';
import type { HandlerOutcome } from './support.js';
import { refundDue, savePaymentDecision } from './support.js';

export interface CloseDeps {
  readonly clock: Clock;
  /** Not called here (no provider call inside the inbox transaction): the recovery sweep cancels. */
  readonly provider?: Pick<PaymentProvider, 'cancel'>;
  readonly decisions?: DecisionLog;
}

/**
 * The booking ended → CloseForEndedBooking: a pending payment is voided, and a charge attempt still
 * open is made due for the recovery sweep at once, which asks the provider to cancel it (outside
 * any transaction) and then looks it up: a charge that succeeded anyway is refunded. A settled
 * payment gets a refund requested (`refund_due`; the refund sweep carries it out, PaymentRefunded);
 * no payment yet → remembered so that a late BookingReserved starts none. Runs in the caller's
 * (inbox) transaction.
 */
async function closeFor(
  deps: CloseDeps,
  tx: PaymentTransaction,
  bookingId: string,
  because: BookingEnd,
  envelope: { readonly event_id: string; readonly correlation_id: string },
): Promise<HandlerOutcome> {
  const existing = await tx.loadByBooking(bookingId);
  const state = existing?.state ?? NO_PAYMENT;
  const command: CloseForEndedBooking = {
    type: 'CloseForEndedBooking',
    data: { booking_id: bookingId, because, now: deps.clock.now().toISOString() },
  };
  const decision = decide(command, state);
  if (!decision.ok || decision.ignored) {
    return ignoredOutcome(deps.decisions, command.type, decision, {
      booking_id: bookingId,
      event_id: envelope.event_id,
      correlation_id: envelope.correlation_id,
    });
  }
  if (state.status === 'initiated' && decision.events.some((e) => e.type === 'PaymentVoided')) {
    const open = await tx.openAttempt(state.payment.payment_id);
    if (open) await tx.updateAttempt({ ...open, next_check_at: command.data.now });
  }
  const saved = await savePaymentDecision(tx, state, decision.events, {
    correlation_id: existing?.correlation_id ?? envelope.correlation_id,
    causation_id: existing?.last_event_id ?? envelope.event_id,
  });
  const due = refundDue(saved.after);
  return due ? { status: 'applied', events: saved.envelopes, refund_due: due } : { status: 'applied', events: saved.envelopes };
}

/** BookingCancelled (guest_request, payment_failed or admin) → close the booking's payment. */
export function closePaymentOnBookingCancelled(
  deps: CloseDeps,
  tx: PaymentTransaction,
  envelope: EnvelopeOf<typeof BookingCancelled>,
): Promise<HandlerOutcome> {
  return closeFor(deps, tx, envelope.payload.booking_id, 'booking_cancelled', envelope);
}

/** ReservationExpired → close the booking's payment. */
export function closePaymentOnReservationExpired(
  deps: CloseDeps,
  tx: PaymentTransaction,
  envelope: EnvelopeOf<typeof ReservationExpired>,
): Promise<HandlerOutcome> {
  return closeFor(deps, tx, envelope.payload.booking_id, 'booking_expired', envelope);
}
