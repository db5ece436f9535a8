import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { DateOnly, Id, Locale, Money, StringEnum, Timestamp } from '../primitives.js';

export const BookingReserved = defineEvent({
  context: 'booking',
  name: 'BookingReserved',
  version: 1,
  aggregateType: 'booking',
  description: 'Beds are held for a guest until the hold expires or the payment settles.',
  aggregateId: (p) => p.booking_id,
  payload: Type.Object({
    booking_id: Id('Booking id.'),
    albergue_id: Id('Albergue id.'),
    guest: Type.Object({
      guest_id: Id('Guest id.'),
      name: Type.String({ minLength: 1, maxLength: 200 }),
      email: Type.String({ format: 'email', maxLength: 320 }),
      locale: Locale(),
    }),
    check_in: DateOnly('First night.'),
    check_out: DateOnly('Departure day (exclusive).'),
    beds: Type.Integer({ minimum: 1, maximum: 50 }),
    total: Money,
    hold_expires_at: Timestamp('When the hold lapses unless paid.'),
  }),
});

export const BookingConfirmed = defineEvent({
  context: 'booking',
  name: 'BookingConfirmed',
  version: 1,
  aggregateType: 'booking',
  description: 'A reserved booking was paid and is now confirmed.',
  aggregateId: (p) => p.booking_id,
  payload: Type.Object({
    booking_id: Id('Booking id.'),
    albergue_id: Id('Albergue id.'),
    payment_id: Id('Payment that settled it.'),
    confirmed_at: Timestamp('When it was confirmed.'),
  }),
});

export const BookingCancelled = defineEvent({
  context: 'booking',
  name: 'BookingCancelled',
  version: 1,
  aggregateType: 'booking',
  description: 'A booking was cancelled and its beds released.',
  aggregateId: (p) => p.booking_id,
  payload: Type.Object({
    booking_id: Id('Booking id.'),
    albergue_id: Id('Albergue id.'),
    reason: StringEnum(['guest_request', 'payment_failed', 'admin'] as const),
    cancelled_at: Timestamp('When it was cancelled.'),
  }),
});

export const ReservationExpired = defineEvent({
  context: 'booking',
  name: 'ReservationExpired',
  version: 1,
  aggregateType: 'booking',
  description: 'A hold lapsed without payment; its beds are free again.',
  aggregateId: (p) => p.booking_id,
  payload: Type.Object({
    booking_id: Id('Booking id.'),
    albergue_id: Id('Albergue id.'),
    hold_expires_at: Timestamp('When the hold was due to lapse.'),
    expired_at: Timestamp('When the expiry was recorded.'),
  }),
});
