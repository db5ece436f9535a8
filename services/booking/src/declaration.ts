import {
  AlbergueCapacityChanged,
  AlbergueRegistered,
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  PaymentConfirmed,
  PaymentFailed,
  ReservationExpired,
} from '@albergue/events';
import { declareService } from '@albergue/messaging';

/** What booking publishes and subscribes to: the runtime, the broker's ACL and the catalog read it. */
export const bookingDeclaration = declareService({
  service: 'booking',
  context: 'booking',
  publishes: [BookingReserved, BookingConfirmed, BookingCancelled, ReservationExpired],
  subscribes: [
    { event: AlbergueRegistered, handler: 'updateInventoryOnAlbergueRegistered' },
    // A capacity change can overtake the registration it depends on: retried until it applies.
    { event: AlbergueCapacityChanged, handler: 'updateInventoryOnCapacityChanged', policy: { maxAttempts: 10 } },
    // A payment that settles after the hold ended expires the booking instead of confirming it.
    { event: PaymentConfirmed, handler: 'confirmBookingOnPaymentConfirmed', emits: [BookingConfirmed, ReservationExpired] },
    { event: PaymentFailed, handler: 'cancelBookingOnPaymentFailed', emits: [BookingCancelled] },
  ],
  followUps: [
    { after: BookingReserved, leadsTo: [ReservationExpired], via: 'the hold lapses unpaid (expire-reservations sweep, BOOKING_HOLD_MS)' },
    { after: BookingReserved, leadsTo: [BookingCancelled], via: 'the guest cancels (POST /bookings/{booking_id}/cancel)' },
  ],
});
