import {
  BookingCancelled,
  BookingReserved,
  PaymentConfirmed,
  PaymentFailed,
  PaymentInitiated,
  PaymentRefunded,
  ReservationExpired,
} from '@albergue/events';
import { declareService } from '@albergue/messaging';

/** What payment publishes and subscribes to: the runtime, the broker's ACL and the catalog read it. */
export const paymentDeclaration = declareService({
  service: 'payment',
  context: 'payment',
  publishes: [PaymentInitiated, PaymentConfirmed, PaymentFailed, PaymentRefunded],
  subscribes: [
    { event: BookingReserved, handler: 'initiatePaymentOnBookingReserved', emits: [PaymentInitiated] },
    // Closing voids an open payment (internal) or requests a refund of money taken: see followUps.
    { event: BookingCancelled, handler: 'closePaymentOnBookingCancelled' },
    { event: ReservationExpired, handler: 'closePaymentOnReservationExpired' },
  ],
  followUps: [
    {
      after: PaymentInitiated,
      leadsTo: [PaymentConfirmed, PaymentFailed],
      via: 'the guest pays (POST /payments/{payment_id}/charge); the provider settles through its callback or the recovery sweep',
    },
    { after: BookingCancelled, leadsTo: [PaymentRefunded], via: 'money already taken is refunded (refund-payments sweep)' },
    { after: ReservationExpired, leadsTo: [PaymentRefunded], via: 'money already taken is refunded (refund-payments sweep)' },
  ],
});
