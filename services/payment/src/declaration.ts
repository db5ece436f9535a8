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
    { event: BookingReserved, handler: 'initiatePaymentOnBookingReserved' },
    { event: BookingCancelled, handler: 'closePaymentOnBookingCancelled' },
    { event: ReservationExpired, handler: 'closePaymentOnReservationExpired' },
  ],
});
