// The BookingRepository / BookingTransaction contract (application/ports.ts), run against every
// adapter: memory (memory-booking-store.test.ts), Postgres (pg.test.ts) and PGlite (pglite.test.ts).
// Port-level checks first, then the application handlers' scenarios and the concurrency races.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EnvelopeOf } from '@albergue/events';
import { AlbergueCapacityChanged, newEnvelope, PaymentConfirmed, PaymentFailed, withCorrelation } from '@albergue/events';
import { uniqueName } from '@albergue/platform/testing';
import { addDays, nightsOf } from '@albergue/decider';
import { availabilityBetween } from '../../domain/inventory.js';
import { cancelBooking } from '../cancel-booking.js';
import { cancelBookingOnPaymentFailed } from '../cancel-for-failed-payment.js';
import { confirmBookingOnPaymentConfirmed } from '../confirm-booking.js';
import { expireDueReservations } from '../expire-reservation.js';
import type { BookingView } from '../ports.js';
import { RetryLater } from '../ports.js';
import { getAvailability, getBooking } from '../queries.js';
import { reserveBooking } from '../reserve-booking.js';
import type { CommandResult } from '@albergue/application';
import { updateInventoryOnCapacityChanged } from '../update-inventory.js';
import type { HarnessSource, TestClock } from './fixtures.js';
import { concurrently, CONFIG, eventsOf, guest, HOLD_MS, registerAlbergue, reserveDeps, stay, testClock } from './fixtures.js';

class Boom extends Error {}

type Reserved = Extract<CommandResult<BookingView>, { ok: true }>;

function assertReserved(r: CommandResult<BookingView>): asserts r is Reserved {
  assert.ok(r.ok, r.ok ? '' : `reservation refused: ${r.errors.map((e) => e.reason).join('; ')}`);
}

function firstEvent(r: Reserved) {
  const e = r.events[0];
  assert.ok(e, 'the reservation emitted no event');
  return e;
}

function paymentConfirmed(clock: TestClock, r: Reserved, amount_minor = r.value.total.amount_minor): EnvelopeOf<typeof PaymentConfirmed> {
  return newEnvelope(
    PaymentConfirmed,
    {
      payment_id: uniqueName('pay'),
      booking_id: r.value.booking_id,
      amount: { amount_minor, currency: 'EUR' },
      provider_reference: 'sim_1',
      confirmed_at: clock.now().toISOString(),
    },
    withCorrelation(firstEvent(r)),
  );
}

export function bookingRepositoryContract(label: string, get: HarnessSource): void {
  describe(`${label}: BookingRepository contract`, () => {
    // ── The port itself ─────────────────────────────────────────────────────────────────────────
    test("transaction: returns the work's value on commit; a throw rolls back every write and is rethrown", async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const night = clock.inDays(10);
      assert.equal(await h.repo.transaction(() => Promise.resolve(42)), 42);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb));
      assertReserved(r);
      const before = await h.queries.inventory(alb, [night]);
      const ghost = uniqueName('alb');
      const ghostEvent = paymentConfirmed(clock, r);
      await assert.rejects(
        h.repo.transaction(async (tx) => {
          const inv = await tx.loadInventory(alb, [night]);
          assert.ok(inv);
          await tx.saveAlbergue({ ...inv, name: 'renamed', beds: 99, capacity_changes: [{ effective_from: night, beds: 20 }] });
          await tx.saveAlbergue({ ...inv, albergue_id: ghost, taken: {} });
          await tx.adjustOccupancy(alb, [{ night, beds: 3 }]);
          const booking = await tx.loadBooking(r.value.booking_id);
          assert.ok(booking);
          await tx.saveBooking({ ...booking, last_event_id: 'changed' });
          await tx.appendToOutbox([paymentConfirmed(clock, r), ghostEvent]);
          throw new Boom('rolled back');
        }),
        Boom,
      );
      assert.ok(!(await h.outbox()).some((e) => e.event_id === ghostEvent.event_id), 'outbox rolled back');
      assert.deepEqual(await h.queries.inventory(alb, [night]), before, `${label}: inventory unchanged`);
      assert.equal(await h.queries.inventory(ghost, []), undefined);
      await h.repo.transaction(async (tx) => {
        assert.equal((await tx.loadBooking(r.value.booking_id))?.last_event_id, firstEvent(r).event_id);
      });
      assert.deepEqual(
        (await eventsOf(h, [r.value.booking_id])).map((e) => e.event_type),
        ['BookingReserved'],
      );
    });

    test('loadBooking: the saved record comes back as it was saved; an unknown id is undefined', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 2, nights: 3 }));
      assertReserved(r);
      const reserved = firstEvent(r);
      await h.repo.transaction(async (tx) => {
        assert.deepEqual(await tx.loadBooking(r.value.booking_id), {
          state: { status: 'reserved', reservation: reserved.payload },
          correlation_id: reserved.correlation_id,
          last_event_id: reserved.event_id,
        });
        assert.equal(await tx.loadBooking(uniqueName('nope')), undefined);
      });
      const paid = paymentConfirmed(clock, r);
      await h.repo.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid));
      const [, confirmed] = await eventsOf(h, [r.value.booking_id]);
      assert.ok(confirmed);
      await h.repo.transaction(async (tx) => {
        assert.deepEqual(await tx.loadBooking(r.value.booking_id), {
          state: {
            status: 'confirmed',
            reservation: reserved.payload,
            payment_id: paid.payload.payment_id,
            confirmed_at: clock.now().toISOString(),
          },
          correlation_id: reserved.correlation_id,
          last_event_id: confirmed.event_id,
        });
      });
    });

    test('loadInventory / saveAlbergue: unknown is undefined; schedule and price round-trip; taken filled for the nights asked; saving never touches occupancy', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10, 'Albergue Jesús y María');
      const [n1, n2, n3] = [clock.inDays(10), clock.inDays(11), clock.inDays(12)] as const;
      await h.repo.transaction(async (tx) => {
        assert.equal(await tx.loadInventory(uniqueName('nope'), [n1]), undefined);
        await tx.adjustOccupancy(alb, [
          { night: n1, beds: 2 },
          { night: n2, beds: 1 },
        ]);
      });
      const schedule = [
        { effective_from: n2, beds: 4 },
        { effective_from: n3, beds: 6 },
      ];
      await h.repo.transaction(async (tx) => {
        const inv = await tx.loadInventory(alb, [n1, n2, n3]);
        assert.deepEqual(inv, {
          albergue_id: alb,
          name: 'Albergue Jesús y María',
          nightly_price: { amount_minor: 1400, currency: 'EUR' },
          beds: 10,
          capacity_changes: [],
          taken: { [n1]: 2, [n2]: 1, [n3]: 0 },
        });
        await tx.saveAlbergue({
          ...inv,
          name: 'Albergue Jesús y María (Pamplona)',
          beds: 12,
          nightly_price: { amount_minor: 1500, currency: 'EUR' },
          capacity_changes: schedule,
          taken: {},
        });
      });
      const read = await h.repo.transaction((tx) => tx.loadInventory(alb, [n2]));
      assert.deepEqual(read, {
        albergue_id: alb,
        name: 'Albergue Jesús y María (Pamplona)',
        nightly_price: { amount_minor: 1500, currency: 'EUR' },
        beds: 12,
        capacity_changes: schedule,
        taken: { [n2]: 1 },
      });
      // The schedule is replaced as a whole.
      await h.repo.transaction(async (tx) => {
        const inv = await tx.loadInventory(alb, []);
        assert.ok(inv);
        await tx.saveAlbergue({ ...inv, capacity_changes: [{ effective_from: n1, beds: 3 }] });
      });
      const after = await h.queries.inventory(alb, [n1, n2, n3]);
      assert.ok(after);
      assert.deepEqual(after.capacity_changes, [{ effective_from: n1, beds: 3 }]);
      assert.deepEqual(after.taken, { [n1]: 2, [n2]: 1, [n3]: 0 });
    });

    test('adjustOccupancy: adds per night (missing nights start at 0), releases with negative deltas, sums repeated nights', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const [n1, n2, n3] = [clock.inDays(10), clock.inDays(11), clock.inDays(12)] as const;
      await h.repo.transaction((tx) =>
        tx.adjustOccupancy(alb, [
          { night: n1, beds: 3 },
          { night: n2, beds: 3 },
        ]),
      );
      await h.repo.transaction((tx) =>
        tx.adjustOccupancy(alb, [
          { night: n2, beds: 2 },
          { night: n3, beds: 1 },
          { night: n3, beds: 1 },
        ]),
      );
      await h.repo.transaction((tx) =>
        tx.adjustOccupancy(alb, [
          { night: n1, beds: -3 },
          { night: n2, beds: -1 },
        ]),
      );
      await h.repo.transaction((tx) => tx.adjustOccupancy(alb, []));
      assert.deepEqual((await h.queries.inventory(alb, [n1, n2, n3]))?.taken, { [n1]: 0, [n2]: 4, [n3]: 2 });
    });

    test('appendToOutbox: envelopes commit in order with the transaction', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb));
      assertReserved(r);
      const a = paymentConfirmed(clock, r);
      const b = paymentConfirmed(clock, r);
      const c = paymentConfirmed(clock, r);
      await h.repo.transaction(async (tx) => {
        await tx.appendToOutbox([a, b]);
        await tx.appendToOutbox([c]);
      });
      const ids = (await h.outbox()).map((e) => e.event_id);
      assert.deepEqual(
        ids.filter((id) => [a, b, c].some((e) => e.event_id === id)),
        [a.event_id, b.event_id, c.event_id],
      );
    });

    test('dueHolds: reserved bookings whose hold has lapsed, oldest first, at most `limit`', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb));
        assertReserved(r);
        ids.push(r.value.booking_id);
        clock.advance(60_000);
      }
      const [first, second, third, fourth] = ids;
      assert.ok(first && second && third && fourth);
      // The first one is paid: no longer a hold.
      const r1 = await h.repo.transaction((tx) => tx.loadBooking(first));
      assert.equal(r1?.state.status, 'reserved');
      const reserved1 = (await eventsOf(h, [first]))[0];
      assert.ok(reserved1 && reserved1.event_type === 'BookingReserved');
      const paid = newEnvelope(
        PaymentConfirmed,
        {
          payment_id: uniqueName('pay'),
          booking_id: first,
          amount: { amount_minor: 2800, currency: 'EUR' },
          provider_reference: 'sim_1',
          confirmed_at: clock.now().toISOString(),
        },
        withCorrelation(reserved1),
      );
      assert.equal((await h.repo.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid))).status, 'applied');
      // now = the 4th booking's time + 60 s: holds of the 1st..3rd (+15 min) lapsed at +15, +16, +17 min.
      const start = clock.now().getTime() - 4 * 60_000;
      assert.deepEqual(await h.repo.dueHolds(new Date(start + HOLD_MS - 1), 10), []);
      assert.deepEqual(await h.repo.dueHolds(new Date(start + HOLD_MS + 60_000), 10), [second]);
      assert.deepEqual(await h.repo.dueHolds(new Date(start + HOLD_MS + 3 * 60_000), 10), [second, third, fourth]);
      assert.deepEqual(await h.repo.dueHolds(new Date(start + HOLD_MS + 3 * 60_000), 2), [second, third]);
    });

    // ── The application's scenarios on this adapter ────────────────────────────────────────────
    test('reserve → BookingReserved in the outbox (a new flow), the beds held, availability down', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const input = stay(clock, alb, { beds: 2 });
      const r = await reserveBooking(reserveDeps(h, clock), { ...input, command_id: 'req-1' });
      assertReserved(r);
      assert.equal(r.value.status, 'reserved');
      assert.deepEqual(r.value.total, { amount_minor: 5600, currency: 'EUR' });
      assert.equal(r.value.hold_expires_at, new Date(clock.now().getTime() + HOLD_MS).toISOString());
      const [e, ...rest] = await eventsOf(h, [r.value.booking_id]);
      assert.equal(rest.length, 0);
      assert.equal(e?.event_type, 'BookingReserved');
      assert.equal(e.correlation_id, e.event_id);
      assert.equal(e.causation_id, 'req-1');
      assert.deepEqual(await getBooking(h.queries, r.value.booking_id), r.value);
      const a = await getAvailability(h.queries, alb, input.check_in, addDays(input.check_out, 1));
      assert.ok(a.ok);
      assert.deepEqual(
        a.value.nights.map((n) => n.available),
        [8, 8, 10],
      );
      assert.equal(a.value.bookable_beds, 8);
    });

    test('unknown albergue → unknown_albergue; not enough beds → no_beds_left per night; nothing stored or published', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 3);
      const unknown = await reserveBooking(reserveDeps(h, clock), stay(clock, uniqueName('nope')));
      assert.ok(!unknown.ok);
      assert.equal(unknown.errors[0].code, 'unknown_albergue');
      const g = guest();
      const tooMany = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 4, guest: g }));
      assert.ok(!tooMany.ok);
      assert.deepEqual(
        tooMany.errors.map((e) => e.code),
        ['no_beds_left', 'no_beds_left'],
      );
      assert.deepEqual(await h.queries.bookingsOfGuest(g.guest_id), []);
      assert.deepEqual((await h.queries.inventory(alb, nightsOf(clock.inDays(10), clock.inDays(12))))?.taken, {
        [clock.inDays(10)]: 0,
        [clock.inDays(11)]: 0,
      });
    });

    test('PaymentConfirmed → BookingConfirmed (same flow, caused by the payment); the same message again changes nothing', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 2 }));
      assertReserved(r);
      const paid = paymentConfirmed(clock, r, 5600);
      assert.equal((await h.repo.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid))).status, 'applied');
      const [reserved, confirmed] = await eventsOf(h, [r.value.booking_id]);
      assert.equal(confirmed?.event_type, 'BookingConfirmed');
      assert.equal(confirmed.correlation_id, reserved?.correlation_id);
      assert.equal(confirmed.causation_id, paid.event_id);
      const view = await getBooking(h.queries, r.value.booking_id);
      assert.equal(view?.status, 'confirmed');
      assert.equal(view.payment_id, paid.payload.payment_id);
      const again = await h.repo.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid));
      assert.equal(again.status, 'ignored');
      assert.equal((await eventsOf(h, [r.value.booking_id])).length, 2);
      // Confirmed bookings keep their beds.
      assert.equal((await h.queries.inventory(alb, [r.value.check_in]))?.taken[r.value.check_in], 2);
    });

    test('PaymentFailed → BookingCancelled(payment_failed) and the beds are free again', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 10 }));
      assertReserved(r);
      const failed = newEnvelope(
        PaymentFailed,
        {
          payment_id: 'pay-1',
          booking_id: r.value.booking_id,
          reason_code: 'card_declined',
          reason: 'declined',
          failed_at: clock.now().toISOString(),
        },
        withCorrelation(firstEvent(r)),
      );
      assert.equal((await h.repo.transaction((tx) => cancelBookingOnPaymentFailed({ clock }, tx, failed))).status, 'applied');
      const view = await getBooking(h.queries, r.value.booking_id);
      assert.equal(view?.status, 'cancelled');
      assert.equal(view.cancel_reason, 'payment_failed');
      assertReserved(await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 10 })));
    });

    test('guest cancels → BookingCancelled(guest_request), beds released; another guest cannot', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const g = guest();
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { guest: g, beds: 3 }));
      assertReserved(r);
      const deps = { repo: h.repo, clock, config: CONFIG };
      const other = await cancelBooking(deps, { booking_id: r.value.booking_id, guest_id: 'someone-else' });
      assert.ok(!other.ok);
      assert.equal(other.errors[0].code, 'not_your_booking');
      const c = await cancelBooking(deps, { booking_id: r.value.booking_id, guest_id: g.guest_id, command_id: 'req-9' });
      assert.ok(c.ok);
      assert.equal(c.value.cancel_reason, 'guest_request');
      assert.equal(c.events[0]?.correlation_id, firstEvent(r).correlation_id);
      assert.equal(c.events[0]?.causation_id, 'req-9');
      assert.deepEqual((await h.queries.inventory(alb, [r.value.check_in]))?.taken, { [r.value.check_in]: 0 });
      const again = await cancelBooking(deps, { booking_id: r.value.booking_id, guest_id: g.guest_id });
      assert.ok(!again.ok);
      assert.equal(again.errors[0].code, 'booking_not_active');
    });

    test("holds expire after their time (the flow's cause chain kept) and the beds are freed; a late payment then changes nothing", async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 10 }));
      assertReserved(r);
      assert.deepEqual(await expireDueReservations({ repo: h.repo, clock }), []);
      clock.advance(HOLD_MS);
      const expired = await expireDueReservations({ repo: h.repo, clock });
      assert.equal(expired.length, 1);
      assert.equal(expired[0]?.event_type, 'ReservationExpired');
      assert.equal(expired[0].correlation_id, firstEvent(r).correlation_id);
      assert.equal(expired[0].causation_id, firstEvent(r).event_id);
      assert.equal((await getBooking(h.queries, r.value.booking_id))?.status, 'expired');
      const late = await h.repo.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paymentConfirmed(clock, r)));
      assert.equal(late.status === 'ignored' && late.ignored.code, 'late_payment');
      assert.equal((await getBooking(h.queries, r.value.booking_id))?.status, 'expired');
      assert.deepEqual(
        (await eventsOf(h, [r.value.booking_id])).map((e) => e.event_type),
        ['BookingReserved', 'ReservationExpired'],
      );
      assertReserved(await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 10 })));
    });

    test('capacity change is reflected in availability (a cut below the beds held leaves 0, never negative); before registration it asks for a retry and writes nothing', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb, { beds: 6 }));
      assertReserved(r);
      const [n1, n2] = nightsOf(r.value.check_in, r.value.check_out);
      assert.ok(n1 && n2);
      const changed = newEnvelope(AlbergueCapacityChanged, { albergue_id: alb, beds: 4, previous_beds: 10, effective_from: n2 });
      await h.repo.transaction((tx) => updateInventoryOnCapacityChanged(tx, changed));
      const a = await getAvailability(h.queries, alb, n1, addDays(n2, 1));
      assert.ok(a.ok);
      assert.deepEqual(
        a.value.nights.map((n) => [n.capacity, n.taken, n.available]),
        [
          [10, 6, 4],
          [4, 6, 0],
        ],
      );
      // The booking made before the cut stays, and can still be cancelled.
      const c = await cancelBooking(
        { repo: h.repo, clock, config: CONFIG },
        { booking_id: r.value.booking_id, guest_id: r.value.guest.guest_id },
      );
      assert.ok(c.ok);
      const early = newEnvelope(AlbergueCapacityChanged, { albergue_id: uniqueName('alb'), beds: 4, effective_from: n2 });
      await assert.rejects(
        h.repo.transaction((tx) => updateInventoryOnCapacityChanged(tx, early)),
        RetryLater,
      );
      assert.equal(await h.queries.inventory(early.payload.albergue_id, []), undefined);
    });

    // ── Concurrency ───────────────────────────────────────────────────────────────────────────
    test('race: 50 concurrent reservations for 10 beds → exactly 10 succeed, 40 no_beds_left, 0 left, 10 BookingReserved in the outbox (another albergue racing alongside is independent)', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const other = await registerAlbergue(h, 5);
      const deps = reserveDeps(h, clock);
      const input = stay(clock, alb, { nights: 1 });
      const [results, others] = await Promise.all([
        concurrently(50, () => reserveBooking(deps, { ...input, guest: guest() })),
        concurrently(20, () => reserveBooking(deps, { ...input, albergue_id: other, guest: guest() })),
      ]);
      const won = results.filter((r): r is Reserved => r.ok);
      assert.equal(won.length, 10);
      for (const r of results)
        if (!r.ok)
          assert.deepEqual(
            r.errors.map((e) => e.code),
            ['no_beds_left'],
          );
      assert.equal(others.filter((r) => r.ok).length, 5);
      const a = await getAvailability(h.queries, alb, input.check_in, input.check_out);
      assert.ok(a.ok);
      assert.deepEqual(
        a.value.nights.map((n) => [n.taken, n.available]),
        [[10, 0]],
      );
      const outboxed = (await h.outbox()).filter(
        (e) => e.event_type === 'BookingReserved' && won.some((w) => w.value.booking_id === e.aggregate_id),
      );
      assert.equal(outboxed.length, 10);
      const allReserved = (await h.outbox()).filter(
        (e) => e.event_type === 'BookingReserved' && (e.payload as { albergue_id?: string }).albergue_id === alb,
      );
      assert.equal(allReserved.length, 10);
    });

    test('mixed race: reservations, cancellations and expiries at once keep occupancy = the beds of live bookings, never above capacity', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 12);
      const deps = reserveDeps(h, clock);
      const base = clock.inDays(10);
      // Overlapping stays of 1–3 nights over 5 nights, 1–2 beds each.
      const shape = (i: number) => ({ check_in: addDays(base, i % 3), nights: 1 + (i % 3), beds: 1 + (i % 2) });
      const seeded: Reserved[] = [];
      for (let i = 0; i < 12; i++) {
        const s = shape(i);
        const r = await reserveBooking(
          deps,
          stay(clock, alb, { check_in: s.check_in, check_out: addDays(s.check_in, s.nights), beds: s.beds }),
        );
        if (r.ok) seeded.push(r);
      }
      assert.ok(seeded.length >= 6, `seeded ${seeded.length}`);
      // Half the seeded bookings are cancelled, the rest lapse and a sweep expires them, while 30 new reservations race.
      clock.advance(HOLD_MS);
      const fresh = { repo: h.repo, clock, ids: deps.ids, config: CONFIG };
      const cancels = seeded.filter((_, i) => i % 2 === 0);
      const [reservations] = await Promise.all([
        concurrently(30, (i) => {
          const s = shape(i + 1);
          return reserveBooking(fresh, stay(clock, alb, { check_in: s.check_in, check_out: addDays(s.check_in, s.nights), beds: s.beds }));
        }),
        concurrently(cancels.length, (i) => {
          const c = cancels[i];
          assert.ok(c);
          return cancelBooking(
            { repo: h.repo, clock, config: CONFIG },
            { booking_id: c.value.booking_id, guest_id: c.value.guest.guest_id },
          );
        }),
        expireDueReservations({ repo: h.repo, clock }),
      ]);
      const ids = [...seeded, ...reservations.filter((r): r is Reserved => r.ok)].map((r) => r.value.booking_id);
      const views = await Promise.all(
        ids.map(async (id) => {
          const v = await h.queries.findBooking(id);
          assert.ok(v);
          return v;
        }),
      );
      const nights = nightsOf(base, addDays(base, 5));
      const expected: Record<string, number> = Object.fromEntries(nights.map((n) => [n, 0]));
      for (const v of views) {
        if (v.status !== 'reserved' && v.status !== 'confirmed') continue;
        for (const n of nightsOf(v.check_in, v.check_out)) expected[n] = (expected[n] ?? 0) + v.beds;
      }
      const inv = await h.queries.inventory(alb, nights);
      assert.ok(inv);
      assert.deepEqual(inv.taken, expected);
      for (const n of availabilityBetween(inv, base, addDays(base, 5)))
        assert.ok(n.taken <= n.capacity, `${n.night}: ${n.taken} > ${n.capacity}`);
      // Every seeded booking ended (cancelled or expired) exactly once.
      const ended = (
        await eventsOf(
          h,
          seeded.map((r) => r.value.booking_id),
        )
      ).filter((e) => e.event_type !== 'BookingReserved');
      assert.equal(ended.length, seeded.length);
      assert.equal(new Set(ended.map((e) => e.aggregate_id)).size, seeded.length);
    });

    test('two expiry sweeps racing emit exactly one ReservationExpired per booking', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 30);
      const deps = reserveDeps(h, clock);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await reserveBooking(deps, stay(clock, alb));
        assertReserved(r);
        ids.push(r.value.booking_id);
      }
      clock.advance(HOLD_MS);
      const [a, b] = await Promise.all([expireDueReservations({ repo: h.repo, clock }), expireDueReservations({ repo: h.repo, clock })]);
      assert.equal(a.length + b.length, 20);
      const expired = (await eventsOf(h, ids)).filter((e) => e.event_type === 'ReservationExpired');
      assert.deepEqual(expired.map((e) => e.aggregate_id).sort(), [...ids].sort());
      assert.deepEqual(await h.repo.dueHolds(clock.now(), 100), []);
      const night = clock.inDays(10);
      assert.equal((await h.queries.inventory(alb, [night]))?.taken[night], 0);
    });
  });
}
