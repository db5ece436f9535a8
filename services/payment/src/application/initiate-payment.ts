import type { BookingReserved, EnvelopeOf } from '@albergue/events';
import type { InitiatePayment } from '../domain/payment.js';
import { decide, NO_PAYMENT } from '../domain/payment.js';
import type { Clock, IdGenerator, PaymentProvider, PaymentTransaction } from './ports.js';
import type { DecisionLog } from '@albergue/application';
import { ignoredOutcome } from '@albergue/application';
import type { HandlerOutcome } from './support.js';
import { savePaymentDecision } from './support.js';

/**
 * BookingReserved → InitiatePayment → PaymentInitiated (one payment per booking: a redelivered
 * BookingReserved, or one arriving after the booking already ended, starts nothing). Runs in the
 * caller's (inbox) transaction; the event joins the booking's flow, caused by BookingReserved.
 * No provider call here: the guest pays through `chargePayment`.
 */
export async function initiatePaymentOnBookingReserved(
  deps: {
    readonly clock: Clock;
    readonly ids: IdGenerator;
    readonly provider: Pick<PaymentProvider, 'name'>;
    readonly decisions?: DecisionLog;
  },
  tx: PaymentTransaction,
  envelope: EnvelopeOf<typeof BookingReserved>,
): Promise<HandlerOutcome> {
  const b = envelope.payload;
  const existing = await tx.loadByBooking(b.booking_id);
  const state = existing?.state ?? NO_PAYMENT;
  const command: InitiatePayment = {
    type: 'InitiatePayment',
    data: {
      payment_id: deps.ids(),
      booking_id: b.booking_id,
      amount: b.total,
      provider: deps.provider.name,
      now: deps.clock.now().toISOString(),
    },
  };
  const decision = decide(command, state);
  if (!decision.ok || decision.ignored) {
    return ignoredOutcome(deps.decisions, command.type, decision, {
      booking_id: b.booking_id,
      event_id: envelope.event_id,
      correlation_id: envelope.correlation_id,
    });
  }
  const { envelopes } = await savePaymentDecision(tx, state, decision.events, {
    correlation_id: envelope.correlation_id,
    causation_id: envelope.event_id,
  });
  return { status: 'applied', events: envelopes };
}
