// What booking's handlers share: its envelope mapping, how a decision is stored, the query view.
import type { Causality, SavedDecision } from '@albergue/application';
import { envelopeMapping, saveDecision } from '@albergue/application';
import { daysBetween } from '@albergue/decider';
import { assertNever } from '@albergue/decider';
import { BookingCancelled, BookingConfirmed, BookingReserved, ReservationExpired } from '@albergue/events';
import type { BookingEvent, BookingState } from '../domain/booking.js';
import { evolve, occupancyChange } from '../domain/booking.js';
import type { BookingRecord, BookingTransaction, BookingView } from './ports.js';

const bookingModel = { evolve, toEnvelope: envelopeMapping({ BookingReserved, BookingConfirmed, BookingCancelled, ReservationExpired }) };

/**
 * Evolves the booking through `events`, stores it, moves the albergue's occupancy and appends the
 * envelopes to the outbox, all in `tx`. Returns the envelopes (in order) and the new record.
 */
export function saveBookingDecision(
  tx: BookingTransaction,
  before: BookingState,
  events: readonly BookingEvent[],
  causality: Causality,
): Promise<SavedDecision<BookingState, BookingRecord>> {
  return saveDecision(tx, bookingModel, before, events, causality, async ({ after, correlation_id, last_event_id }) => {
    if (after.status === 'none' || correlation_id === undefined || last_event_id === undefined) return undefined;
    const record: BookingRecord = { state: after, correlation_id, last_event_id };
    await tx.saveBooking(record);
    const deltas = occupancyChange(before, after);
    if (deltas.length > 0) await tx.adjustOccupancy(after.reservation.albergue_id, deltas);
    return record;
  });
}

/** The query view of a stored booking. */
export function bookingView(state: BookingRecord['state']): BookingView {
  const r = state.reservation;
  const base = {
    booking_id: r.booking_id,
    albergue_id: r.albergue_id,
    status: state.status,
    guest: { guest_id: r.guest.guest_id, name: r.guest.name, email: r.guest.email, locale: r.guest.locale },
    check_in: r.check_in,
    check_out: r.check_out,
    nights: daysBetween(r.check_in, r.check_out),
    beds: r.beds,
    total: { amount_minor: r.total.amount_minor, currency: r.total.currency },
    hold_expires_at: r.hold_expires_at,
  };
  switch (state.status) {
    case 'reserved':
      return base;
    case 'confirmed':
      return { ...base, payment_id: state.payment_id, confirmed_at: state.confirmed_at };
    case 'cancelled':
      return { ...base, cancelled_at: state.cancelled_at, cancel_reason: state.reason };
    case 'expired':
      return { ...base, expired_at: state.expired_at };
    default:
      return assertNever(state);
  }
}
