import {
  AlbergueCapacityChanged,
  AlbergueRegistered,
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  PaymentConfirmed,
  PaymentFailed,
  PaymentInitiated,
  PaymentRefunded,
  ReservationExpired,
} from '@albergue/events';
import { declareService } from '@albergue/messaging';

/**
 * What operations subscribes to (it publishes nothing): one subscriber, `operations`, one handler per
 * event, each applying the event to every projection that reads it in one inbox transaction.
 */
export const operationsDeclaration = declareService({
  service: 'operations',
  context: 'audit',
  publishes: [],
  subscribes: [
    { event: AlbergueRegistered, handler: 'projectOnAlbergueRegistered' },
    { event: AlbergueCapacityChanged, handler: 'projectOnAlbergueCapacityChanged' },
    { event: BookingReserved, handler: 'projectOnBookingReserved' },
    { event: BookingConfirmed, handler: 'projectOnBookingConfirmed' },
    { event: BookingCancelled, handler: 'projectOnBookingCancelled' },
    { event: ReservationExpired, handler: 'projectOnReservationExpired' },
    { event: PaymentInitiated, handler: 'projectOnPaymentInitiated' },
    { event: PaymentConfirmed, handler: 'projectOnPaymentConfirmed' },
    { event: PaymentFailed, handler: 'projectOnPaymentFailed' },
    { event: PaymentRefunded, handler: 'projectOnPaymentRefunded' },
  ],
});
