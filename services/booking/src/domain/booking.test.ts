// Tests are not domain code: the purity rule does not apply to the test runner.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BookingCommand, BookingDecision, BookingEvent, Reservation, ReserveBooking } from './booking.js';
import { decide, evolve, NO_BOOKING, occupancyChange, replay } from './booking.js';
import type { AlbergueInventory } from './inventory.js';
import { applyOccupancy, availabilityOn, evolveInventory } from './inventory.js';

// ── given / when / then ────────────────────────────────────────────────────────────────────────
const NOW = '2025-05-10T09:00:00.000Z';
const TODAY = '2025-05-10';
const HOLD_MS = 15 * 60 * 1000;
const ALB = 'alb-roncesvalles';

function albergue(beds = 10, price = 1400): AlbergueInventory {
  return evolveInventory(undefined, {
    type: 'AlbergueRegistered',
    data: {
      albergue_id: ALB,
      name: 'Roncesvalles',
      town: 'Roncesvalles',
      route: 'Camino Francés',
      location: { lat: 43.0, lon: -1.3 },
      beds,
      nightly_price: { amount_minor: price, currency: 'EUR' },
    },
  })!;
}

const guest = { guest_id: 'g-1', name: 'Ana Peregrina', email: 'ana@example.org', locale: 'es' };

function reserve(over: Partial<ReserveBooking['data']> = {}): ReserveBooking {
  return {
    type: 'ReserveBooking',
    data: {
      booking_id: 'b-1',
      albergue_id: ALB,
      guest,
      check_in: '2025-06-01',
      check_out: '2025-06-03',
      beds: 2,
      now: NOW,
      today: TODAY,
      hold_ms: HOLD_MS,
      ...over,
    },
  };
}

const reservation: Reservation = {
  booking_id: 'b-1',
  albergue_id: ALB,
  guest,
  check_in: '2025-06-01',
  check_out: '2025-06-03',
  beds: 2,
  total: { amount_minor: 5600, currency: 'EUR' },
  hold_expires_at: '2025-05-10T09:15:00.000Z',
};
const reserved: BookingEvent = { type: 'BookingReserved', data: reservation };
const confirmed: BookingEvent = {
  type: 'BookingConfirmed',
  data: { booking_id: 'b-1', albergue_id: ALB, payment_id: 'p-1', confirmed_at: '2025-05-10T09:05:00.000Z' },
};
const cancelled: BookingEvent = {
  type: 'BookingCancelled',
  data: { booking_id: 'b-1', albergue_id: ALB, reason: 'guest_request', cancelled_at: '2025-05-10T09:06:00.000Z' },
};
const expired: BookingEvent = {
  type: 'ReservationExpired',
  data: { booking_id: 'b-1', albergue_id: ALB, hold_expires_at: reservation.hold_expires_at, expired_at: '2025-05-10T09:16:00.000Z' },
};

function given(history: readonly BookingEvent[], inventory: AlbergueInventory | null = albergue()) {
  return { when: (command: BookingCommand) => decide(command, { booking: replay(history), inventory: inventory ?? undefined }) };
}

function thenEvents(d: BookingDecision, expected: readonly BookingEvent[]): void {
  assert.ok(d.ok, `expected success, got ${JSON.stringify(d)}`);
  assert.deepEqual(d.events, expected);
  assert.equal(d.ignored, undefined);
}

function thenIgnored(d: BookingDecision, code: string): void {
  assert.ok(d.ok, `expected a no-op, got ${JSON.stringify(d)}`);
  assert.deepEqual(d.events, []);
  assert.equal(d.ignored?.code, code);
}

function thenRejected(d: BookingDecision, ...codes: string[]): string[] {
  assert.ok(!d.ok, `expected a rejection, got ${JSON.stringify(d)}`);
  assert.deepEqual(
    d.errors.map((e) => e.code),
    codes,
  );
  for (const e of d.errors) assert.ok(e.reason.length > 0);
  return d.errors.map((e) => e.reason);
}

const cancel = (over: { guest_id?: string; today?: string } = {}): BookingCommand => ({
  type: 'CancelBooking',
  data: { booking_id: 'b-1', guest_id: 'g-1', now: '2025-05-10T09:10:00.000Z', today: TODAY, ...over },
});
const confirm = (over: { payment_id?: string; amount_minor?: number; now?: string } = {}): BookingCommand => ({
  type: 'ConfirmBooking',
  data: {
    booking_id: 'b-1',
    payment_id: over.payment_id ?? 'p-1',
    amount: { amount_minor: over.amount_minor ?? 5600, currency: 'EUR' },
    now: over.now ?? '2025-05-10T09:05:00.000Z',
  },
});
const confirmPaidAt = (paid_at: string, now: string): BookingCommand => ({
  type: 'ConfirmBooking',
  data: { booking_id: 'b-1', payment_id: 'p-1', amount: { amount_minor: 5600, currency: 'EUR' }, now, paid_at },
});
const paymentFailed: BookingCommand = {
  type: 'CancelForFailedPayment',
  data: { booking_id: 'b-1', payment_id: 'p-1', now: '2025-05-10T09:07:00.000Z' },
};
const expire = (now: string): BookingCommand => ({ type: 'ExpireReservation', data: { booking_id: 'b-1', now } });

// ── ReserveBooking ─────────────────────────────────────────────────────────────────────────────
describe('ReserveBooking', () => {
  test('a new booking with free beds → BookingReserved, total = nights × beds × price, hold = now + hold', () => {
    thenEvents(given([]).when(reserve()), [reserved]);
  });

  test('total for 3 nights × 1 bed at 12.50 EUR', () => {
    const d = given([], albergue(10, 1250)).when(reserve({ check_out: '2025-06-04', beds: 1 }));
    assert.ok(d.ok);
    assert.deepEqual(d.events[0]?.type === 'BookingReserved' && d.events[0].data.total, { amount_minor: 3750, currency: 'EUR' });
  });

  test('check_out on or before check_in → rejected', () => {
    thenRejected(given([]).when(reserve({ check_out: '2025-06-01' })), 'check_out_not_after_check_in');
    thenRejected(given([]).when(reserve({ check_out: '2025-05-30' })), 'check_out_not_after_check_in');
  });

  test('30 nights is the maximum', () => {
    assert.ok(given([], albergue()).when(reserve({ check_in: '2025-06-01', check_out: '2025-07-01' })).ok);
    thenRejected(given([]).when(reserve({ check_in: '2025-06-01', check_out: '2025-07-02' })), 'too_many_nights');
  });

  test('check_in in the past → rejected; today is fine', () => {
    thenRejected(given([]).when(reserve({ check_in: '2025-05-09', check_out: '2025-05-11' })), 'check_in_in_past');
    assert.ok(given([]).when(reserve({ check_in: TODAY, check_out: '2025-05-11' })).ok);
  });

  test('more than a year ahead → rejected', () => {
    thenRejected(given([]).when(reserve({ check_in: '2026-06-01', check_out: '2026-06-02' })), 'check_in_too_far_ahead');
  });

  test('beds 0, negative, fractional or over 50 → rejected', () => {
    for (const beds of [0, -1, 1.5, 51]) thenRejected(given([]).when(reserve({ beds })), 'invalid_beds');
  });

  test('not a calendar date → rejected', () => {
    thenRejected(given([]).when(reserve({ check_in: '2025-02-30' })), 'invalid_date');
  });

  test('every problem is listed at once', () => {
    const reasons = thenRejected(
      given([]).when(reserve({ check_in: '2025-05-01', check_out: '2025-04-30', beds: 0, guest: { ...guest, email: 'nope' } })),
      'check_out_not_after_check_in',
      'check_in_in_past',
      'invalid_beds',
      'invalid_guest',
    );
    assert.match(reasons.join(' | '), /check_out \(2025-04-30\) must be after check_in/);
  });

  test('unknown albergue → rejected', () => {
    thenRejected(given([], null).when(reserve()), 'unknown_albergue');
    thenRejected(given([]).when(reserve({ albergue_id: 'alb-other' })), 'unknown_albergue');
  });

  test('no beds left on one night → rejected naming that night; the other nights do not matter', () => {
    const full = applyOccupancy(albergue(10), [{ night: '2025-06-02', beds: 10 }]);
    const reasons = thenRejected(given([], full).when(reserve()), 'no_beds_left');
    assert.match(reasons[0]!, /no beds left at Roncesvalles on the night of 2025-06-02/);
    assert.ok(given([], full).when(reserve({ check_in: '2025-06-03', check_out: '2025-06-05' })).ok);
  });

  test('fewer beds left than asked → rejected with how many are left', () => {
    const almost = applyOccupancy(albergue(10), [{ night: '2025-06-01', beds: 9 }]);
    const reasons = thenRejected(given([], almost).when(reserve()), 'no_beds_left');
    assert.match(reasons[0]!, /only 1 of the 2 beds/);
    assert.ok(given([], almost).when(reserve({ beds: 1 })).ok);
  });

  test('the last beds can be taken exactly', () => {
    assert.ok(given([], albergue(2)).when(reserve({ beds: 2 })).ok);
    thenRejected(given([], albergue(1)).when(reserve({ beds: 2 })), 'no_beds_left', 'no_beds_left');
  });

  test('a capacity change counts from its effective night on', () => {
    const inv = evolveInventory(albergue(10), {
      type: 'AlbergueCapacityChanged',
      data: { albergue_id: ALB, beds: 0, effective_from: '2025-06-02' },
    })!;
    thenRejected(given([], inv).when(reserve()), 'no_beds_left');
    assert.ok(given([], inv).when(reserve({ check_out: '2025-06-02' })).ok);
  });

  test('an existing booking id → rejected', () => {
    for (const history of [[reserved], [reserved, confirmed], [reserved, expired]])
      thenRejected(given(history).when(reserve()), 'booking_exists');
  });
});

// ── CancelBooking (guest) ──────────────────────────────────────────────────────────────────────
describe('CancelBooking', () => {
  const byGuest: BookingEvent = {
    type: 'BookingCancelled',
    data: { booking_id: 'b-1', albergue_id: ALB, reason: 'guest_request', cancelled_at: '2025-05-10T09:10:00.000Z' },
  };

  test('reserved → BookingCancelled(guest_request)', () => thenEvents(given([reserved]).when(cancel()), [byGuest]));
  test('confirmed → BookingCancelled(guest_request) (payment refunds)', () =>
    thenEvents(given([reserved, confirmed]).when(cancel()), [byGuest]));
  test('no such booking → booking_not_found', () => void thenRejected(given([]).when(cancel()), 'booking_not_found'));
  test('another guest → not_your_booking', () =>
    void thenRejected(given([reserved]).when(cancel({ guest_id: 'g-2' })), 'not_your_booking'));
  test('cancelled or expired → booking_not_active', () => {
    thenRejected(given([reserved, cancelled]).when(cancel()), 'booking_not_active');
    thenRejected(given([reserved, expired]).when(cancel()), 'booking_not_active');
  });
  test('on or after check-in day → stay_started', () =>
    void thenRejected(given([reserved, confirmed]).when(cancel({ today: '2025-06-01' })), 'stay_started'));
});

// ── ConfirmBooking (PaymentConfirmed) ──────────────────────────────────────────────────────────
describe('ConfirmBooking', () => {
  test('reserved → BookingConfirmed', () => thenEvents(given([reserved]).when(confirm()), [confirmed]));

  test('reserved, decided after its hold ended but before the sweep expired it → ReservationExpired, not confirmed', () => {
    thenEvents(given([reserved]).when(confirm({ now: '2025-05-10T09:20:00.000Z' })), [
      {
        type: 'ReservationExpired',
        data: { booking_id: 'b-1', albergue_id: ALB, hold_expires_at: reservation.hold_expires_at, expired_at: '2025-05-10T09:20:00.000Z' },
      },
    ]);
  });
  test('decided exactly at hold_expires_at → late (the hold is over at that instant)', () => {
    const d = given([reserved]).when(confirm({ now: reservation.hold_expires_at }));
    assert.ok(d.ok);
    assert.deepEqual(
      d.events.map((e) => e.type),
      ['ReservationExpired'],
    );
  });
  test('one millisecond before the hold ends → confirmed', () => {
    thenEvents(given([reserved]).when(confirm({ now: '2025-05-10T09:14:59.999Z' })), [
      { ...confirmed, data: { ...confirmed.data, confirmed_at: '2025-05-10T09:14:59.999Z' } },
    ]);
  });
  test("paid (payment's confirmed_at) after the hold, though booking decides earlier by its clock → late", () => {
    const d = given([reserved]).when(confirmPaidAt('2025-05-10T09:15:00.001Z', '2025-05-10T09:14:00.000Z'));
    assert.ok(d.ok);
    assert.deepEqual(
      d.events.map((e) => e.type),
      ['ReservationExpired'],
    );
  });
  test('paid in time but the PaymentConfirmed arrives after the hold → late (the decision time counts too)', () => {
    const d = given([reserved]).when(confirmPaidAt('2025-05-10T09:10:00.000Z', '2025-05-10T09:15:30.000Z'));
    assert.ok(d.ok);
    assert.deepEqual(
      d.events.map((e) => e.type),
      ['ReservationExpired'],
    );
  });
  test('an unreadable paid_at is not trusted either way: decided by the clock', () => {
    thenEvents(given([reserved]).when(confirmPaidAt('not-a-time', '2025-05-10T09:05:00.000Z')), [confirmed]);
  });
  test('late then the sweep: the sweep finds nothing to expire; a second late PaymentConfirmed → late_payment, no event', () => {
    const late = given([reserved]).when(confirm({ now: '2025-05-10T09:20:00.000Z' }));
    assert.ok(late.ok);
    const history = [reserved, ...late.events];
    assert.equal(replay(history).status, 'expired');
    thenIgnored(given(history).when(expire('2025-05-10T09:21:00.000Z')), 'booking_not_reserved');
    thenIgnored(given(history).when(confirm({ now: '2025-05-10T09:22:00.000Z' })), 'late_payment');
  });

  test('expired → late payment: no event, stays expired', () => thenIgnored(given([reserved, expired]).when(confirm()), 'late_payment'));
  test('cancelled → late payment: no event, stays cancelled', () =>
    thenIgnored(given([reserved, cancelled]).when(confirm()), 'late_payment'));
  test('the same PaymentConfirmed twice → one BookingConfirmed', () =>
    thenIgnored(given([reserved, confirmed]).when(confirm()), 'already_confirmed'));
  test('a second payment on a confirmed booking → no event', () =>
    thenIgnored(given([reserved, confirmed]).when(confirm({ payment_id: 'p-2' })), 'paid_twice'));
  test('amount different from the total → not confirmed', () =>
    thenIgnored(given([reserved]).when(confirm({ amount_minor: 100 })), 'amount_mismatch'));
  test('unknown booking → no event', () => thenIgnored(given([]).when(confirm()), 'booking_not_found'));
});

// ── CancelForFailedPayment (PaymentFailed) ─────────────────────────────────────────────────────
describe('CancelForFailedPayment', () => {
  test('reserved → BookingCancelled(payment_failed)', () => {
    thenEvents(given([reserved]).when(paymentFailed), [
      {
        type: 'BookingCancelled',
        data: { booking_id: 'b-1', albergue_id: ALB, reason: 'payment_failed', cancelled_at: '2025-05-10T09:07:00.000Z' },
      },
    ]);
  });
  test('confirmed, cancelled or expired → no event', () => {
    for (const history of [
      [reserved, confirmed],
      [reserved, cancelled],
      [reserved, expired],
    ])
      thenIgnored(given(history).when(paymentFailed), 'booking_not_reserved');
  });
  test('unknown booking → no event', () => thenIgnored(given([]).when(paymentFailed), 'booking_not_found'));
});

// ── ExpireReservation ──────────────────────────────────────────────────────────────────────────
describe('ExpireReservation', () => {
  test('reserved, hold lapsed → ReservationExpired', () => {
    thenEvents(given([reserved]).when(expire('2025-05-10T09:16:00.000Z')), [expired]);
  });
  test('exactly at hold_expires_at → expired', () => {
    const d = given([reserved]).when(expire(reservation.hold_expires_at));
    assert.ok(d.ok);
    assert.equal(d.events.length, 1);
  });
  test('reserved, hold not due → no event', () => thenIgnored(given([reserved]).when(expire('2025-05-10T09:14:59.999Z')), 'hold_not_due'));
  test('confirmed, cancelled, expired or unknown → no event (safe to run twice, from several instances)', () => {
    for (const history of [[reserved, confirmed], [reserved, cancelled], [reserved, expired], []]) {
      thenIgnored(given(history).when(expire('2025-05-11T00:00:00.000Z')), 'booking_not_reserved');
    }
  });
});

// ── evolve and occupancy ───────────────────────────────────────────────────────────────────────
describe('evolve and occupancy', () => {
  test('each event moves the state machine', () => {
    assert.equal(replay([reserved]).status, 'reserved');
    assert.equal(replay([reserved, confirmed]).status, 'confirmed');
    assert.equal(replay([reserved, confirmed, cancelled]).status, 'cancelled');
    assert.equal(replay([reserved, expired]).status, 'expired');
    // A stale event does not resurrect a finished booking.
    assert.equal(replay([reserved, expired, confirmed]).status, 'expired');
  });

  test('beds are held while reserved or confirmed and released on cancel or expiry', () => {
    const r = replay([reserved]);
    assert.deepEqual(occupancyChange(NO_BOOKING, r), [
      { night: '2025-06-01', beds: 2 },
      { night: '2025-06-02', beds: 2 },
    ]);
    const c = evolve(r, confirmed);
    assert.deepEqual(occupancyChange(r, c), []);
    assert.deepEqual(occupancyChange(c, evolve(c, cancelled)), [
      { night: '2025-06-01', beds: -2 },
      { night: '2025-06-02', beds: -2 },
    ]);
    assert.deepEqual(occupancyChange(r, evolve(r, expired)), [
      { night: '2025-06-01', beds: -2 },
      { night: '2025-06-02', beds: -2 },
    ]);
  });

  test('a hold that expires frees its beds for the next guest', () => {
    let inv = albergue(2);
    const first = given([], inv).when(reserve({ beds: 2 }));
    assert.ok(first.ok && first.events[0]);
    const held = evolve(NO_BOOKING, first.events[0]);
    inv = applyOccupancy(inv, occupancyChange(NO_BOOKING, held));
    assert.equal(availabilityOn(inv, '2025-06-01').available, 0);
    thenRejected(decide(reserve({ booking_id: 'b-2', beds: 1 }), { booking: NO_BOOKING, inventory: inv }), 'no_beds_left', 'no_beds_left');

    const lapse = decide(expire('2025-05-10T09:30:00.000Z'), { booking: held });
    assert.ok(lapse.ok && lapse.events[0]);
    inv = applyOccupancy(inv, occupancyChange(held, evolve(held, lapse.events[0])));
    assert.equal(availabilityOn(inv, '2025-06-01').available, 2);
    assert.ok(decide(reserve({ booking_id: 'b-2', beds: 1 }), { booking: NO_BOOKING, inventory: inv }).ok);
  });
});
