// Shared plumbing of booking's handlers: clock readings, envelopes, and saving a decision.
import type { EventEnvelope, EventMeta } from '@albergue/events';
import { BookingCancelled, BookingConfirmed, BookingReserved, newEnvelope, newEventId, ReservationExpired } from '@albergue/events';
import type { BookingEvent, BookingState } from '../domain/booking.js';
import { evolve, occupancyChange } from '../domain/booking.js';
import { daysBetween } from '../domain/dates.js';
import type { DomainError, Errors } from '@albergue/decider';
import { assertNever } from '@albergue/decider';
import type { BookingRecord, BookingTransaction, BookingView } from './ports.js';

/** A command handler's answer: the new view and the events it emitted, or every reason it refused. */
export type CommandResult<V> =
  | { readonly ok: true; readonly value: V; readonly events: readonly EventEnvelope[] }
  | { readonly ok: false; readonly errors: Errors };

/** An event handler's answer; `ignored` is a deliberate no-op (the message is acked). */
export type HandlerOutcome =
  | { readonly status: 'applied'; readonly events: readonly EventEnvelope[] }
  | { readonly status: 'ignored'; readonly ignored: DomainError };

/** The calendar date of `now` in `timeZone` (`YYYY-MM-DD`). */
export function localDate(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function toEnvelope(event: BookingEvent, meta: EventMeta): EventEnvelope {
  switch (event.type) {
    case 'BookingReserved':
      return newEnvelope(BookingReserved, event.data, meta);
    case 'BookingConfirmed':
      return newEnvelope(BookingConfirmed, event.data, meta);
    case 'BookingCancelled':
      return newEnvelope(BookingCancelled, event.data, meta);
    case 'ReservationExpired':
      return newEnvelope(ReservationExpired, event.data, meta);
    default:
      return assertNever(event);
  }
}

/** How the new events join their flow. */
export interface Causality {
  /** The flow; undefined starts a new one (correlation_id = the first event's id). */
  readonly correlation_id?: string | undefined;
  /**
   * The event or command that caused the first event (undefined: the first event is its own cause);
   * the events after it chain on each other.
   */
  readonly causation_id?: string | undefined;
}

/**
 * Evolves the booking through `events`, stores it, moves the albergue's occupancy and appends the
 * envelopes to the outbox, all in `tx`. Returns the envelopes (in order) and the new record.
 */
export async function saveDecision(
  tx: BookingTransaction,
  before: BookingState,
  events: readonly BookingEvent[],
  causality: Causality,
): Promise<{ envelopes: EventEnvelope[]; record: BookingRecord | undefined }> {
  const after = events.reduce(evolve, before);
  if (after.status === 'none' || events.length === 0) return { envelopes: [], record: undefined };
  const envelopes: EventEnvelope[] = [];
  let correlation = causality.correlation_id;
  let cause = causality.causation_id;
  for (const event of events) {
    const event_id = newEventId();
    correlation ??= event_id;
    cause ??= event_id;
    const envelope = toEnvelope(event, { event_id, correlation_id: correlation, causation_id: cause });
    envelopes.push(envelope);
    cause = envelope.event_id;
  }
  const last = envelopes[envelopes.length - 1]!;
  const record: BookingRecord = { state: after, correlation_id: last.correlation_id, last_event_id: last.event_id };
  await tx.saveBooking(record);
  const deltas = occupancyChange(before, after);
  if (deltas.length > 0) await tx.adjustOccupancy(after.reservation.albergue_id, deltas);
  await tx.appendToOutbox(envelopes);
  return { envelopes, record };
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
