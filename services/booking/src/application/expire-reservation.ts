import type { EventEnvelope } from '@albergue/events';
import type { ExpireReservation } from '../domain/booking.js';
import { decide, NO_BOOKING } from '../domain/booking.js';
import type { BookingRepository, Clock } from './ports.js';
import type { DecisionLog, HandlerOutcome } from '@albergue/application';
import { ignoredOutcome } from '@albergue/application';
import { saveBookingDecision } from './support.js';

export interface ExpireDeps {
  readonly repo: BookingRepository;
  readonly clock: Clock;
  readonly decisions?: DecisionLog;
}

/**
 * ExpireReservation → ReservationExpired for one booking whose hold has lapsed; its beds are freed
 * in the same transaction. Re-checked under the booking's lock, so it is a no-op when the booking
 * was confirmed, cancelled or expired meanwhile (by another scheduler instance, for example).
 * The event joins the booking's flow and names its latest event (BookingReserved) as its cause.
 */
export async function expireReservation(deps: ExpireDeps, bookingId: string): Promise<HandlerOutcome> {
  const command: ExpireReservation = { type: 'ExpireReservation', data: { booking_id: bookingId, now: deps.clock.now().toISOString() } };
  return deps.repo.transaction(async (tx): Promise<HandlerOutcome> => {
    const existing = await tx.loadBooking(bookingId);
    const state = existing?.state ?? NO_BOOKING;
    const decision = decide(command, { booking: state });
    if (!decision.ok || decision.ignored) return ignoredOutcome(deps.decisions, command.type, decision, { booking_id: bookingId });
    const { envelopes } = await saveBookingDecision(tx, state, decision.events, {
      correlation_id: existing?.correlation_id,
      causation_id: existing?.last_event_id,
    });
    return { status: 'applied', events: envelopes };
  });
}

/**
 * One sweep of the hold-expiry scheduler: expires up to `limit` lapsed holds, one transaction each.
 * Safe with several instances running it at once (each booking is decided under its lock).
 * Returns the events emitted; run it every few seconds (and again at once when it hit `limit`).
 */
export async function expireDueReservations(deps: ExpireDeps, limit = 100): Promise<EventEnvelope[]> {
  const due = await deps.repo.dueHolds(deps.clock.now(), limit);
  const emitted: EventEnvelope[] = [];
  for (const bookingId of due) {
    const outcome = await expireReservation(deps, bookingId);
    if (outcome.status === 'applied') emitted.push(...outcome.events);
  }
  return emitted;
}
