import { BookingReserved, newEnvelope } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';

/** A valid BookingReserved envelope (topic albergue.booking.v1.BookingReserved). */
export function bookingReserved(n = 1): EventEnvelope {
  return newEnvelope(BookingReserved, {
    booking_id: `b-${n}`,
    albergue_id: 'alb-1',
    guest: { guest_id: `g-${n}`, name: 'Ana Peregrina', email: 'ana@example.org', locale: 'es' },
    check_in: '2026-06-01',
    check_out: '2026-06-02',
    beds: 1,
    total: { amount_minor: 1500, currency: 'EUR' },
    hold_expires_at: '2026-05-30T12:00:00.000Z',
  });
}

export const BOOKING_RESERVED_MQTT = 'albergue/booking/v1/BookingReserved';
export const BOOKING_RESERVED = 'albergue.booking.v1.BookingReserved';
