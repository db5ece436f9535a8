// The BookingQueries contract (application/ports.ts), run against every adapter next to the
// repository contract: the read side shows what the command side committed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AlbergueCapacityChanged, newEnvelope, PaymentConfirmed, withCorrelation } from '@albergue/events';
import { uniqueName } from '@albergue/platform/testing';
import { addDays, nightsOf } from '@albergue/decider';
import { cancelBooking } from '../cancel-booking.js';
import { confirmBookingOnPaymentConfirmed } from '../confirm-booking.js';
import { expireReservation } from '../expire-reservation.js';
import type { BookingView } from '../ports.js';
import { getAvailability, getGuestBookings, MAX_AVAILABILITY_NIGHTS } from '../queries.js';
import { reserveBooking } from '../reserve-booking.js';
import { updateInventoryOnCapacityChanged } from '../update-inventory.js';
import type { HarnessSource } from './fixtures.js';
import { CONFIG, eventsOf, guest, HOLD_MS, registerAlbergue, reserveDeps, stay, testClock } from './fixtures.js';

export function bookingQueriesContract(label: string, get: HarnessSource): void {
  describe(`${label}: BookingQueries contract`, () => {
    test('findBooking: the view of each status; undefined for an unknown id', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const deps = reserveDeps(h, clock);
      const g = guest();
      const reserve = async (beds: number) => {
        const r = await reserveBooking(deps, stay(clock, alb, { guest: g, beds }));
        assert.ok(r.ok);
        return r;
      };
      const [toConfirm, toCancel, toExpire, stays] = [await reserve(1), await reserve(2), await reserve(3), await reserve(4)];
      const reservedAt = clock.now().toISOString();
      const base: Omit<BookingView, 'status' | 'booking_id' | 'beds' | 'total'> = {
        albergue_id: alb,
        guest: g,
        check_in: clock.inDays(10),
        check_out: clock.inDays(12),
        nights: 2,
        hold_expires_at: new Date(clock.now().getTime() + HOLD_MS).toISOString(),
      };
      const view = (r: typeof toConfirm, beds: number) => ({
        ...base,
        booking_id: r.value.booking_id,
        beds,
        total: { amount_minor: 2800 * beds, currency: 'EUR' },
      });

      clock.advance(60_000);
      const reservedEvent = (await eventsOf(h, [toConfirm.value.booking_id]))[0];
      assert.ok(reservedEvent);
      const paid = newEnvelope(
        PaymentConfirmed,
        {
          payment_id: 'pay-7',
          booking_id: toConfirm.value.booking_id,
          amount: { amount_minor: 2800, currency: 'EUR' },
          provider_reference: 'sim_7',
          confirmed_at: clock.now().toISOString(),
        },
        withCorrelation(reservedEvent),
      );
      await h.repo.transaction((tx) => confirmBookingOnPaymentConfirmed({ clock }, tx, paid));
      const confirmedAt = clock.now().toISOString();
      assert.ok(
        (await cancelBooking({ repo: h.repo, clock, config: CONFIG }, { booking_id: toCancel.value.booking_id, guest_id: g.guest_id })).ok,
      );
      clock.advance(HOLD_MS);
      assert.equal((await expireReservation({ repo: h.repo, clock }, toExpire.value.booking_id)).status, 'applied');

      assert.deepEqual(await h.queries.findBooking(toConfirm.value.booking_id), {
        ...view(toConfirm, 1),
        status: 'confirmed',
        payment_id: 'pay-7',
        confirmed_at: confirmedAt,
      });
      assert.deepEqual(await h.queries.findBooking(toCancel.value.booking_id), {
        ...view(toCancel, 2),
        status: 'cancelled',
        cancel_reason: 'guest_request',
        cancelled_at: confirmedAt,
      });
      assert.deepEqual(await h.queries.findBooking(toExpire.value.booking_id), {
        ...view(toExpire, 3),
        status: 'expired',
        expired_at: clock.now().toISOString(),
      });
      assert.deepEqual(await h.queries.findBooking(stays.value.booking_id), { ...view(stays, 4), status: 'reserved' });
      assert.ok(reservedAt < confirmedAt);
      assert.equal(await h.queries.findBooking(uniqueName('nope')), undefined);
    });

    test("bookingsOfGuest: only that guest's bookings, newest check-in first; none for an unknown guest", async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const deps = reserveDeps(h, clock);
      const g = guest();
      const checkIns = [clock.inDays(12), clock.inDays(10), clock.inDays(30), clock.inDays(11)];
      for (const check_in of checkIns) {
        assert.ok((await reserveBooking(deps, stay(clock, alb, { guest: g, check_in, check_out: addDays(check_in, 1) }))).ok);
      }
      assert.ok((await reserveBooking(deps, stay(clock, alb))).ok);
      const mine = await getGuestBookings(h.queries, g.guest_id);
      assert.deepEqual(
        mine.map((v) => v.check_in),
        [...checkIns].sort().reverse(),
      );
      assert.ok(mine.every((v) => v.guest.guest_id === g.guest_id));
      assert.deepEqual(await h.queries.bookingsOfGuest(uniqueName('nobody')), []);
    });

    test('inventory / availability: capacity schedule, beds held and free per night over a range; unknown albergue and bad ranges refused', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 8);
      const from = clock.inDays(10);
      const to = addDays(from, 5);
      const r = await reserveBooking(
        reserveDeps(h, clock),
        stay(clock, alb, { check_in: addDays(from, 1), check_out: addDays(from, 4), beds: 3 }),
      );
      assert.ok(r.ok);
      const change = (beds: number, days: number) =>
        newEnvelope(AlbergueCapacityChanged, { albergue_id: alb, beds, effective_from: addDays(from, days) });
      await h.repo.transaction((tx) => updateInventoryOnCapacityChanged(tx, change(2, 3)));
      await h.repo.transaction((tx) => updateInventoryOnCapacityChanged(tx, change(12, 4)));
      const a = await getAvailability(h.queries, alb, from, to);
      assert.ok(a.ok);
      assert.deepEqual(a.value, {
        albergue_id: alb,
        from,
        to,
        bookable_beds: 0,
        nights: [
          { night: from, capacity: 8, taken: 0, available: 8 },
          { night: addDays(from, 1), capacity: 8, taken: 3, available: 5 },
          { night: addDays(from, 2), capacity: 8, taken: 3, available: 5 },
          { night: addDays(from, 3), capacity: 2, taken: 3, available: 0 },
          { night: addDays(from, 4), capacity: 12, taken: 0, available: 12 },
        ],
      });
      const inv = await h.queries.inventory(alb, nightsOf(from, to));
      assert.deepEqual(inv?.capacity_changes, [
        { effective_from: addDays(from, 3), beds: 2 },
        { effective_from: addDays(from, 4), beds: 12 },
      ]);
      assert.deepEqual(await h.queries.inventory(alb, []), { ...inv, taken: {} });
      const unknown = await getAvailability(h.queries, uniqueName('nope'), from, to);
      assert.ok(!unknown.ok);
      assert.equal(unknown.errors[0]?.code, 'unknown_albergue');
      const tooLong = await getAvailability(h.queries, alb, from, addDays(from, MAX_AVAILABILITY_NIGHTS + 1));
      assert.ok(!tooLong.ok);
      assert.equal(tooLong.errors[0]?.code, 'invalid_range');
    });
  });
}
