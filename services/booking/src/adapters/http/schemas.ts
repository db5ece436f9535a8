// TypeBox schemas of booking's HTTP API: validation and the OpenAPI document come from these.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { DateOnly, Id, Locale, Money } from '@albergue/application/http';
import { MAX_BEDS } from '../../domain/booking.js';

const Guest = Type.Object(
  {
    guest_id: Id('Guest id.'),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    email: Type.String({ format: 'email', maxLength: 320 }),
    locale: Locale({ default: 'es' }),
  },
  { additionalProperties: false },
);

export const ReserveBody = Type.Object(
  {
    albergue_id: Id('Albergue to stay at.'),
    guest: Guest,
    check_in: DateOnly('First night.'),
    check_out: DateOnly('Departure day (after check_in, at most 30 nights later).'),
    beds: Type.Integer({ minimum: 1, maximum: MAX_BEDS }),
  },
  { additionalProperties: false },
);
export type ReserveBody = Static<typeof ReserveBody>;

export const CancelBody = Type.Object({ guest_id: Id('The guest cancelling; must own the booking.') }, { additionalProperties: false });
export type CancelBody = Static<typeof CancelBody>;

export const BookingParams = Type.Object({ booking_id: Id('Booking id.') });
export const GuestParams = Type.Object({ guest_id: Id('Guest id.') });
export const AlbergueParams = Type.Object({ albergue_id: Id('Albergue id.') });
export const AvailabilityQuery = Type.Object(
  {
    from: DateOnly('First night.'),
    to: DateOnly('Day after the last night (exclusive).'),
  },
  { additionalProperties: false },
);

export const BookingView = Type.Object({
  booking_id: Type.String(),
  albergue_id: Type.String(),
  status: Type.Union([Type.Literal('reserved'), Type.Literal('confirmed'), Type.Literal('cancelled'), Type.Literal('expired')]),
  guest: Type.Object({ guest_id: Type.String(), name: Type.String(), email: Type.String(), locale: Type.String() }),
  check_in: Type.String({ format: 'date' }),
  check_out: Type.String({ format: 'date' }),
  nights: Type.Integer(),
  beds: Type.Integer(),
  total: Money,
  hold_expires_at: Type.String({ format: 'date-time', description: 'Pay before this or the beds are released.' }),
  payment_id: Type.Optional(Type.String()),
  confirmed_at: Type.Optional(Type.String({ format: 'date-time' })),
  cancelled_at: Type.Optional(Type.String({ format: 'date-time' })),
  cancel_reason: Type.Optional(Type.String()),
  expired_at: Type.Optional(Type.String({ format: 'date-time' })),
});

export const BookingList = Type.Object({ bookings: Type.Array(BookingView) });

export const Availability = Type.Object({
  albergue_id: Type.String(),
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  bookable_beds: Type.Integer({ description: 'Beds one booking for the whole range can get.' }),
  nights: Type.Array(
    Type.Object({
      night: Type.String({ format: 'date' }),
      capacity: Type.Integer(),
      taken: Type.Integer(),
      available: Type.Integer(),
    }),
  ),
});
