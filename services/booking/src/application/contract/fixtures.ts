// What the port contract suites run against, and the fixtures they share. Every test makes its own
// albergue, guests and clock, so one database serves a whole test file.
import type { EventEnvelope } from '@albergue/events';
import { AlbergueRegistered, newEnvelope, newEventId } from '@albergue/events';
import { uniqueName } from '@albergue/platform/testing';
import { addDays } from '@albergue/decider';
import type { BookingConfig, BookingQueries, BookingRepository, Clock } from '../ports.js';
import type { ReserveBookingDeps, ReserveBookingInput } from '../reserve-booking.js';
import { localDate } from '@albergue/application';
import { updateInventoryOnAlbergueRegistered } from '../update-inventory.js';

export interface BookingStoreHarness {
  readonly repo: BookingRepository;
  readonly queries: BookingQueries;
  /** Every envelope appended to the outbox and committed, in append order. */
  outbox(): Promise<readonly EventEnvelope[]>;
}

/** A getter: the harness is opened by the test file's `before` hook. */
export type HarnessSource = () => BookingStoreHarness;

export const HOLD_MS = 15 * 60_000;
export const CONFIG: BookingConfig = { holdMs: HOLD_MS, timeZone: 'Europe/Madrid' };
const DAY_MS = 86_400_000;

export interface TestClock extends Clock {
  advance(ms: number): void;
  /** Today in Madrid. */
  today(): string;
  /** The date `days` after today. */
  inDays(days: number): string;
}

// Each clock starts two days before the previous one: the holds of later tests lapse before those
// of earlier tests, so a test's expiry sweep (dueHolds ≤ its now) never sees another test's holds.
let epochMs = Date.parse('2031-06-01T08:00:00.000Z');

export function testClock(): TestClock {
  epochMs -= 2 * DAY_MS;
  let nowMs = epochMs;
  const today = () => localDate(new Date(nowMs), CONFIG.timeZone);
  return {
    now: () => new Date(nowMs),
    advance: (ms) => {
      nowMs += ms;
    },
    today,
    inDays: (days) => addDays(today(), days),
  };
}

export function reserveDeps(h: BookingStoreHarness, clock: Clock): ReserveBookingDeps {
  return { repo: h.repo, clock, ids: newEventId, config: CONFIG };
}

/** Registers a new albergue with `beds` beds at 14.00 EUR a night (through the handler); its id. */
export async function registerAlbergue(h: BookingStoreHarness, beds: number, name = 'Albergue de Roncesvalles'): Promise<string> {
  const albergue_id = uniqueName('alb');
  const registered = newEnvelope(AlbergueRegistered, {
    albergue_id,
    name,
    town: 'Roncesvalles',
    route: 'Camino Francés',
    location: { lat: 43.0093, lon: -1.3197 },
    beds,
    nightly_price: { amount_minor: 1400, currency: 'EUR' },
  });
  await h.repo.transaction((tx) => updateInventoryOnAlbergueRegistered(tx, registered));
  return albergue_id;
}

export function guest(id = uniqueName('g')): ReserveBookingInput['guest'] {
  return { guest_id: id, name: 'Ana Peregrina', email: `${id}@example.org`, locale: 'es' };
}

/** A stay of `nights` nights starting 10 days after the clock's today. */
export function stay(
  clock: TestClock,
  albergue_id: string,
  over: Partial<ReserveBookingInput> & { nights?: number } = {},
): ReserveBookingInput {
  const { nights = 2, ...rest } = over;
  const check_in = clock.inDays(10);
  return { albergue_id, guest: guest(), check_in, check_out: addDays(check_in, nights), beds: 1, ...rest };
}

/** The committed outbox envelopes about these bookings, in append order. */
export async function eventsOf(h: BookingStoreHarness, bookingIds: Iterable<string>): Promise<EventEnvelope[]> {
  const ids = new Set(bookingIds);
  return (await h.outbox()).filter((e) => e.aggregate_type === 'booking' && ids.has(e.aggregate_id));
}

/** Runs `count` calls of `fn` at once; resolves when all settled (every promise awaited). */
export async function concurrently<T>(count: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => fn(i)));
}
