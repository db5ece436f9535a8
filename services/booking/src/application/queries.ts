import { isCalendarDate, daysBetween, nightsOf } from '@albergue/decider';
import type { NightAvailability } from '../domain/inventory.js';
import { availabilityBetween } from '../domain/inventory.js';
import type { DomainError } from '@albergue/decider';
import type { BookingQueries, BookingView } from './ports.js';

export async function getBooking(queries: BookingQueries, bookingId: string): Promise<BookingView | undefined> {
  return queries.findBooking(bookingId);
}

export async function getGuestBookings(queries: BookingQueries, guestId: string): Promise<BookingView[]> {
  return queries.bookingsOfGuest(guestId);
}

/** Longest range an availability query may ask for. */
export const MAX_AVAILABILITY_NIGHTS = 92;

export interface AlbergueAvailability {
  readonly albergue_id: string;
  readonly from: string;
  readonly to: string;
  readonly nights: readonly NightAvailability[];
  /** The fewest beds free on any night of the range: what one booking for the whole range can get. */
  readonly bookable_beds: number;
}

export type AvailabilityResult =
  | { readonly ok: true; readonly value: AlbergueAvailability }
  | { readonly ok: false; readonly errors: readonly DomainError<'invalid_range' | 'unknown_albergue'>[] };

/** Beds per night of an albergue over [from, to) — `to` is exclusive, like check_out. */
export async function getAvailability(queries: BookingQueries, albergueId: string, from: string, to: string): Promise<AvailabilityResult> {
  if (!isCalendarDate(from) || !isCalendarDate(to))
    return { ok: false, errors: [{ code: 'invalid_range', reason: 'from and to must be dates (YYYY-MM-DD)' }] };
  const n = daysBetween(from, to);
  if (n < 1 || n > MAX_AVAILABILITY_NIGHTS) {
    return { ok: false, errors: [{ code: 'invalid_range', reason: `to must be 1 to ${MAX_AVAILABILITY_NIGHTS} days after from` }] };
  }
  const inventory = await queries.inventory(albergueId, nightsOf(from, to));
  if (!inventory) return { ok: false, errors: [{ code: 'unknown_albergue', reason: `albergue ${albergueId} is not known` }] };
  const nights = availabilityBetween(inventory, from, to);
  return { ok: true, value: { albergue_id: albergueId, from, to, nights, bookable_beds: Math.min(...nights.map((x) => x.available)) } };
}
