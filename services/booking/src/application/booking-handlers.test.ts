import assert from 'node:assert/strict';
import type { IgnoredDecision } from '@albergue/application';
import { beforeEach, describe, test } from 'node:test';
import type { EnvelopeOf } from '@albergue/events';
import {
  AlbergueCapacityChanged,
  AlbergueRegistered,
  newEnvelope,
  PaymentConfirmed,
  PaymentFailed,
  withCorrelation,
} from '@albergue/events';
import { MemoryBookingStore } from '../adapters/memory/memory-booking-store.js';
import { cancelBooking } from './cancel-booking.js';
import { cancelBookingOnPaymentFailed } from './cancel-for-failed-payment.js';
import { confirmBookingOnPaymentConfirmed } from './confirm-booking.js';
import { expireDueReservations } from './expire-reservation.js';
import type { BookingConfig } from './ports.js';
import { RetryLater } from './ports.js';
import { getAvailability, getBooking } from './queries.js';
import type { ReserveBookingInput } from './reserve-booking.js';
import { reserveBooking } from './reserve-booking.js';
import { localDate } from '@albergue/application';
import { updateInventoryOnAlbergueRegistered, updateInventoryOnCapacityChanged } from './update-inventory.js';

let clockMs = Date.parse('2025-05-10T08:00:00.000Z');
const clock = { now: () => new Date(clockMs) };
let seq = 0;
const ids = () => `b-${++seq}`;
const config: BookingConfig = { holdMs: 15 * 60_000, timeZone: 'Europe/Madrid' };
let store: MemoryBookingStore;
const deps = () => ({ repo: store, clock, ids, config });

const registered = newEnvelope(AlbergueRegistered, {
  albergue_id: 'alb-1',
  name: 'Albergue de Roncesvalles',
  town: 'Roncesvalles',
  route: 'Camino Francés',
  location: { lat: 43.0093, lon: -1.3197 },
  beds: 10,
  nightly_price: { amount_minor: 1400, currency: 'EUR' },
});

const input = (over: Partial<ReserveBookingInput> = {}): ReserveBookingInput => ({
  albergue_id: 'alb-1',
  guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
  check_in: '2025-06-01',
  check_out: '2025-06-03',
  beds: 1,
  ...over,
});

function paymentConfirmed(
  reserved: { event_id: string; correlation_id: string },
  booking_id: string,
  amount_minor: number,
): EnvelopeOf<typeof PaymentConfirmed> {
  return newEnvelope(
    PaymentConfirmed,
    {
      payment_id: 'pay-1',
      booking_id,
      amount: { amount_minor, currency: 'EUR' },
      provider_reference: 'sim_1',
      confirmed_at: clock.now().toISOString(),
    },
    withCorrelation(reserved),
  );
}

beforeEach(async () => {
  clockMs = Date.parse('2025-05-10T08:00:00.000Z');
  store = new MemoryBookingStore();
  await store.transaction((tx) => updateInventoryOnAlbergueRegistered(tx, registered));
});

describe('booking application', () => {
  test('reserve → BookingReserved in the outbox, a new flow, the beds held', async () => {
    const r = await reserveBooking(deps(), { ...input({ beds: 2 }), command_id: 'req-1' });
    assert.ok(r.ok);
    assert.equal(r.value.status, 'reserved');
    assert.deepEqual(r.value.total, { amount_minor: 5600, currency: 'EUR' });
    assert.equal(r.value.hold_expires_at, '2025-05-10T08:15:00.000Z');
    const [e] = store.outbox;
    assert.equal(e?.event_type, 'BookingReserved');
    assert.equal(e.correlation_id, e.event_id);
    assert.equal(e.causation_id, 'req-1');
    const a = await getAvailability(store, 'alb-1', '2025-06-01', '2025-06-04');
    assert.ok(a.ok);
    assert.deepEqual(
      a.value.nights.map((n) => n.available),
      [8, 8, 10],
    );
    assert.equal(a.value.bookable_beds, 8);
  });

  test('bad input is refused before any I/O, with every reason; nothing stored or published', async () => {
    const r = await reserveBooking(deps(), input({ check_in: '2025-05-01', check_out: '2025-04-01', beds: 0 }));
    assert.ok(!r.ok);
    assert.deepEqual(
      r.errors.map((e) => e.code),
      ['check_out_not_after_check_in', 'check_in_in_past', 'invalid_beds'],
    );
    assert.equal(store.outbox.length, 0);
  });

  test('unknown albergue → unknown_albergue, nothing published', async () => {
    const r = await reserveBooking(deps(), input({ albergue_id: 'nope' }));
    assert.ok(!r.ok);
    assert.equal(r.errors[0].code, 'unknown_albergue');
    assert.equal(store.outbox.length, 0);
  });

  test('50 concurrent reservations for 10 beds → exactly 10 succeed, the rest no_beds_left; 0 left', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        reserveBooking(deps(), input({ guest: { guest_id: `g-${i}`, name: 'P', email: `p${i}@example.org`, locale: 'en' } })),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, 10);
    for (const r of results) if (!r.ok) assert.equal(r.errors[0].code, 'no_beds_left');
    const a = await getAvailability(store, 'alb-1', '2025-06-01', '2025-06-03');
    assert.ok(a.ok);
    assert.equal(a.value.bookable_beds, 0);
  });

  test('PaymentConfirmed → BookingConfirmed, same correlation, caused by the payment event', async () => {
    const r = await reserveBooking(deps(), input({ beds: 2 }));
    assert.ok(r.ok);
    const reserved = r.events[0]!;
    const paid = paymentConfirmed(reserved, r.value.booking_id, 5600);
    const outcome = await store.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid));
    assert.equal(outcome.status, 'applied');
    const confirmed = store.outbox[1]!;
    assert.equal(confirmed.event_type, 'BookingConfirmed');
    assert.equal(confirmed.correlation_id, reserved.correlation_id);
    assert.equal(confirmed.causation_id, paid.event_id);
    assert.equal((await getBooking(store, r.value.booking_id))?.status, 'confirmed');
    // The same message again: nothing new.
    const again = await store.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid));
    assert.equal(again.status, 'ignored');
    assert.equal(store.outbox.length, 2);
  });

  test('PaymentFailed → BookingCancelled(payment_failed) and the beds are free again', async () => {
    const r = await reserveBooking(deps(), input({ beds: 10 }));
    assert.ok(r.ok);
    const failed = newEnvelope(
      PaymentFailed,
      {
        payment_id: 'pay-1',
        booking_id: r.value.booking_id,
        reason_code: 'card_declined',
        reason: 'declined',
        failed_at: clock.now().toISOString(),
      },
      withCorrelation(r.events[0]!),
    );
    assert.equal((await store.transaction((tx) => cancelBookingOnPaymentFailed({ clock }, tx, failed))).status, 'applied');
    const view = await getBooking(store, r.value.booking_id);
    assert.equal(view?.status, 'cancelled');
    assert.equal(view?.cancel_reason, 'payment_failed');
    assert.ok((await reserveBooking(deps(), input({ beds: 10 }))).ok);
  });

  test('holds expire after their time (once, even with two sweeps racing) and the beds are freed', async () => {
    const r = await reserveBooking(deps(), input({ beds: 10 }));
    assert.ok(r.ok);
    assert.deepEqual(await expireDueReservations({ repo: store, clock }), []);
    clockMs += 15 * 60_000;
    const [a, b] = await Promise.all([expireDueReservations({ repo: store, clock }), expireDueReservations({ repo: store, clock })]);
    assert.equal(a.length + b.length, 1);
    const expired = store.outbox.at(-1)!;
    assert.equal(expired.event_type, 'ReservationExpired');
    assert.equal(expired.correlation_id, r.events[0]!.correlation_id);
    assert.equal(expired.causation_id, r.events[0]!.event_id);
    assert.ok((await reserveBooking(deps(), input({ beds: 10 }))).ok);
  });

  test('late PaymentConfirmed after expiry: the booking stays expired and nothing is published', async () => {
    const r = await reserveBooking(deps(), input());
    assert.ok(r.ok);
    clockMs += 20 * 60_000;
    await expireDueReservations({ repo: store, clock });
    const reported: IgnoredDecision[] = [];
    const paid = paymentConfirmed(r.events[0]!, r.value.booking_id, 1400 * 2);
    const outcome = await store.transaction((tx) =>
      confirmBookingOnPaymentConfirmed({ clock, decisions: { ignored: (x) => reported.push(x) } }, tx, paid),
    );
    assert.equal(outcome.status === 'ignored' && outcome.ignored.code, 'late_payment');
    assert.deepEqual(
      reported.map((x) => [x.decision, x.ignored.code, x.refs?.booking_id, x.refs?.event_id]),
      [['ConfirmBooking', 'late_payment', r.value.booking_id, paid.event_id]],
      'reported, not dropped',
    );
    assert.equal((await getBooking(store, r.value.booking_id))?.status, 'expired');
    assert.deepEqual(
      store.outbox.map((e) => e.event_type),
      ['BookingReserved', 'ReservationExpired'],
    );
  });

  test('PaymentConfirmed after the hold, before the expiry sweep ran: ReservationExpired (caused by the payment), beds freed, sweep then a no-op', async () => {
    const r = await reserveBooking(deps(), input({ beds: 10 }));
    assert.ok(r.ok);
    clockMs += 15 * 60_000 + 162; // 162 ms after the hold ended, as measured in the issue
    const paid = paymentConfirmed(r.events[0]!, r.value.booking_id, 1400 * 2 * 10);
    const outcome = await store.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid));
    assert.equal(outcome.status, 'applied');
    assert.equal((await getBooking(store, r.value.booking_id))?.status, 'expired');
    const expired = store.outbox.at(-1)!;
    assert.equal(expired.event_type, 'ReservationExpired');
    assert.equal(expired.causation_id, paid.event_id);
    assert.equal(expired.correlation_id, r.events[0]!.correlation_id);
    assert.deepEqual(await expireDueReservations({ repo: store, clock }), []);
    assert.deepEqual(
      store.outbox.map((e) => e.event_type),
      ['BookingReserved', 'ReservationExpired'],
    );
    assert.ok((await reserveBooking(deps(), input({ beds: 10 }))).ok, 'the 10 beds are free again');
  });

  test('guest cancels → BookingCancelled(guest_request); someone else cannot', async () => {
    const r = await reserveBooking(deps(), input());
    assert.ok(r.ok);
    const other = await cancelBooking(deps(), { booking_id: r.value.booking_id, guest_id: 'g-2' });
    assert.ok(!other.ok);
    assert.equal(other.errors[0].code, 'not_your_booking');
    const c = await cancelBooking(deps(), { booking_id: r.value.booking_id, guest_id: 'g-1', command_id: 'req-9' });
    assert.ok(c.ok);
    assert.equal(c.value.cancel_reason, 'guest_request');
    assert.equal(c.events[0]?.correlation_id, r.events[0]!.correlation_id);
    assert.equal(c.events[0]?.causation_id, 'req-9');
  });

  test('capacity change is reflected in availability; before registration it asks for a retry', async () => {
    const changed = newEnvelope(AlbergueCapacityChanged, {
      albergue_id: 'alb-1',
      beds: 4,
      previous_beds: 10,
      effective_from: '2025-06-02',
    });
    await store.transaction((tx) => updateInventoryOnCapacityChanged(tx, changed));
    const a = await getAvailability(store, 'alb-1', '2025-06-01', '2025-06-03');
    assert.ok(a.ok);
    assert.deepEqual(
      a.value.nights.map((n) => n.capacity),
      [10, 4],
    );
    const early = newEnvelope(AlbergueCapacityChanged, { albergue_id: 'alb-2', beds: 4, effective_from: '2025-06-02' });
    await assert.rejects(
      store.transaction((tx) => updateInventoryOnCapacityChanged(tx, early)),
      RetryLater,
    );
  });

  test('availability query validates its range and albergue', async () => {
    const bad = await getAvailability(store, 'alb-1', '2025-06-03', '2025-06-01');
    assert.ok(!bad.ok);
    assert.equal(bad.errors[0]?.code, 'invalid_range');
    const unknown = await getAvailability(store, 'x', '2025-06-01', '2025-06-02');
    assert.ok(!unknown.ok);
    assert.equal(unknown.errors[0]?.code, 'unknown_albergue');
  });

  test('"today" is the date in Madrid', () => {
    assert.equal(localDate(new Date('2025-05-10T22:30:00Z'), 'Europe/Madrid'), '2025-05-11');
    assert.equal(localDate(new Date('2025-05-10T21:30:00Z'), 'Europe/Madrid'), '2025-05-10');
  });
});
