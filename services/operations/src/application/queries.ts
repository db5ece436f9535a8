// The operators' questions, answered from a ProjectionReader: the live store (Redis/memory) for the
// live endpoints, Postgres for the reports. One code path, two sources.
import { daysBetween, isCalendarDate, nightsOf } from '@albergue/decider';
import type { DomainError } from '@albergue/decider';
import type { AlbergueCapacityDoc, BookingStatus, FlowDoc } from '../domain/operations-projections.js';
import {
  ALL_BOOKINGS_KEY,
  BOOKING_STATUSES,
  IN_FLIGHT_INDEX,
  REFUNDS_KEY,
  albergueBookingsKey,
  bookings,
  capacityOn,
  flows,
  nightField,
  nightsCounterKey,
  occupancy,
  payments,
} from '../domain/operations-projections.js';
import type { ProjectionReader } from './ports.js';

/** Longest range an occupancy question may ask for (as booking's availability). */
export const MAX_OCCUPANCY_NIGHTS = 92;
export const MAX_FLOWS_LIMIT = 1000;

export type QueryResult<T, C extends string> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly DomainError<C>[] };

export interface NightOccupancy {
  readonly night: string;
  /** Beds that night, or null when the projection has not heard of the albergue's capacity for it. */
  readonly capacity: number | null;
  readonly reserved: number;
  readonly confirmed: number;
  /** capacity − reserved − confirmed (negative after a capacity cut below the beds held); null with capacity. */
  readonly free: number | null;
}

export interface Occupancy {
  readonly albergue_id: string;
  readonly from: string;
  readonly to: string;
  readonly nights: readonly NightOccupancy[];
}

export async function occupancyOf(
  reader: ProjectionReader,
  albergueId: string,
  from: string,
  to: string,
): Promise<QueryResult<Occupancy, 'invalid_range' | 'albergue_not_found'>> {
  if (!isCalendarDate(from) || !isCalendarDate(to))
    return { ok: false, errors: [{ code: 'invalid_range', reason: 'from and to must be dates (YYYY-MM-DD)' }] };
  const n = daysBetween(from, to);
  if (n < 1 || n > MAX_OCCUPANCY_NIGHTS)
    return { ok: false, errors: [{ code: 'invalid_range', reason: `to must be 1 to ${MAX_OCCUPANCY_NIGHTS} days after from` }] };
  const [doc] = (await reader.entities(occupancy.name, [`albergue:${albergueId}`])) as (AlbergueCapacityDoc | undefined)[];
  const held = await reader.counters(occupancy.name, nightsCounterKey(albergueId));
  if (doc === undefined && Object.keys(held).length === 0)
    return { ok: false, errors: [{ code: 'albergue_not_found', reason: `no event of albergue ${albergueId} has been projected` }] };
  const nights = nightsOf(from, to).map((night): NightOccupancy => {
    const capacity = doc === undefined ? undefined : capacityOn(doc, night);
    const reserved = held[nightField(night, 'reserved')] ?? 0;
    const confirmed = held[nightField(night, 'confirmed')] ?? 0;
    return {
      night,
      capacity: capacity ?? null,
      reserved,
      confirmed,
      free: capacity === undefined ? null : capacity - reserved - confirmed,
    };
  });
  return { ok: true, value: { albergue_id: albergueId, from, to, nights } };
}

export type StatusCounts = Readonly<Record<BookingStatus, number>> & { readonly total: number };

const statusCounts = (fields: Record<string, number>): StatusCounts => {
  const counts = Object.fromEntries(BOOKING_STATUSES.map((s) => [s, fields[s] ?? 0])) as Record<BookingStatus, number>;
  return { ...counts, total: BOOKING_STATUSES.reduce((t, s) => t + counts[s], 0) };
};

export interface BookingsByStatus {
  readonly overall: StatusCounts;
  readonly albergues: readonly ({ readonly albergue_id: string } & StatusCounts)[];
}

/** Bookings per status overall and per albergue (only `albergueId` when given). */
export async function bookingsByStatus(reader: ProjectionReader, albergueId?: string): Promise<BookingsByStatus> {
  const overall = statusCounts(await reader.counters(bookings.name, ALL_BOOKINGS_KEY));
  const prefix = albergueBookingsKey('');
  const keys =
    albergueId === undefined
      ? (await reader.counterKeys(bookings.name)).filter((k) => k.startsWith(prefix))
      : [albergueBookingsKey(albergueId)];
  const albergues = [];
  for (const key of keys) {
    const counts = statusCounts(await reader.counters(bookings.name, key));
    if (counts.total > 0 || albergueId !== undefined) albergues.push({ albergue_id: key.slice(prefix.length), ...counts });
  }
  return { overall, albergues };
}

export interface MoneyCount {
  readonly currency: string;
  readonly count: number;
  readonly amount_minor: number;
}

export interface PaymentsByStatus {
  readonly by_status: readonly ({ readonly status: string } & MoneyCount)[];
  readonly refunds: readonly MoneyCount[];
}

function moneyCounts(fields: Record<string, number>): MoneyCount[] {
  const currencies = [...new Set(Object.keys(fields).map((f) => f.slice(0, f.lastIndexOf('|'))))].sort();
  return currencies
    .map((currency) => ({ currency, count: fields[`${currency}|count`] ?? 0, amount_minor: fields[`${currency}|amount_minor`] ?? 0 }))
    .filter((m) => m.count !== 0 || m.amount_minor !== 0);
}

/** Count and sum of payments per status and currency, and of refunds per currency. */
export async function paymentsByStatus(reader: ProjectionReader): Promise<PaymentsByStatus> {
  const byStatus = [];
  for (const key of (await reader.counterKeys(payments.name)).filter((k) => k.startsWith('status:'))) {
    for (const m of moneyCounts(await reader.counters(payments.name, key))) byStatus.push({ status: key.slice('status:'.length), ...m });
  }
  return { by_status: byStatus, refunds: moneyCounts(await reader.counters(payments.name, REFUNDS_KEY)) };
}

export interface FlowInFlight {
  readonly booking_id: string;
  readonly albergue_id: string;
  readonly correlation_id: string | null;
  readonly beds: number | null;
  readonly reserved_at: string;
  readonly hold_expires_at: string | null;
  /** now − reserved_at, in milliseconds. */
  readonly waited_ms: number;
}

export interface FlowsInFlight {
  readonly total: number;
  readonly flows: readonly FlowInFlight[];
}

/** Reserved bookings not yet confirmed, cancelled or expired, the longest waiting first. */
export async function flowsInFlight(reader: ProjectionReader, limit: number, nowMs: number): Promise<FlowsInFlight> {
  const { members, total } = await reader.indexRange(flows.name, IN_FLIGHT_INDEX, Math.max(1, Math.min(limit, MAX_FLOWS_LIMIT)));
  const docs = (await reader.entities(
    flows.name,
    members.map((m) => m.key),
  )) as (FlowDoc | undefined)[];
  const out: FlowInFlight[] = [];
  members.forEach((m, i) => {
    const d = docs[i];
    if (!d || d.reserved_at === undefined) return;
    out.push({
      booking_id: m.key.slice('booking:'.length),
      albergue_id: d.albergue_id,
      correlation_id: d.correlation_id ?? null,
      beds: d.beds ?? null,
      reserved_at: d.reserved_at,
      hold_expires_at: d.hold_expires_at ?? null,
      waited_ms: Math.max(0, nowMs - m.score),
    });
  });
  return { total, flows: out };
}
