// What the Postgres adapter promises beyond the ports, on real Postgres (pg.test.ts) and PGlite
// (pglite.test.ts): its migrations, the schema's guards, and forTransaction inside the inbox.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { AlbergueCapacityChanged, newEnvelope, PaymentConfirmed, withCorrelation } from '@albergue/events';
import { migrate, OUTBOX_MIGRATIONS, runInbox } from '@albergue/outbox';
import { uniqueName } from '@albergue/platform/testing';
import { confirmBookingOnPaymentConfirmed } from '../../application/confirm-booking.js';
import { registerAlbergue, reserveDeps, stay, testClock } from '../../application/contract/fixtures.js';
import { RetryLater } from '../../application/ports.js';
import { reserveBooking } from '../../application/reserve-booking.js';
import { updateInventoryOnCapacityChanged } from '../../application/update-inventory.js';
import { BOOKING_MIGRATIONS } from './migrations.js';
import type { PgHarness } from './test-databases.js';

const OVERBOOKING = /overbooking refused/;
const NEGATIVE = /violates check constraint/;

export function pgAdapterSuite(label: string, get: () => PgHarness): void {
  describe(`${label}: Postgres adapter`, () => {
    test("migrations: versions from 100 up, after the outbox's; running them again changes nothing", async () => {
      const { db } = get();
      assert.ok(BOOKING_MIGRATIONS.every((m) => m.version >= 100));
      const again = await migrate(db, [...OUTBOX_MIGRATIONS, ...BOOKING_MIGRATIONS]);
      assert.deepEqual(again, { applied: [], skipped: [...OUTBOX_MIGRATIONS, ...BOOKING_MIGRATIONS].map((m) => m.version) });
      const tables = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      assert.deepEqual(
        tables.rows.map((r) => r.table_name),
        [
          'bookings',
          'inbox_events',
          'inventory_albergues',
          'inventory_capacity_changes',
          'inventory_nights',
          'outbox_events',
          'outbox_published',
          'schema_migrations',
        ],
      );
    });

    test("schema guard: a night's occupancy never grows past its capacity and never goes below 0; a capacity cut below it is allowed and releases still work", async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 4);
      const [n1, n2] = [clock.inDays(10), clock.inDays(11)] as const;
      // Even without the inventory lock (a buggy caller), the database refuses to overbook.
      await assert.rejects(
        h.repo.transaction((tx) => tx.adjustOccupancy(alb, [{ night: n1, beds: 5 }])),
        OVERBOOKING,
      );
      await h.repo.transaction((tx) =>
        tx.adjustOccupancy(alb, [
          { night: n1, beds: 3 },
          { night: n2, beds: 4 },
        ]),
      );
      await assert.rejects(
        h.repo.transaction((tx) =>
          tx.adjustOccupancy(alb, [
            { night: n1, beds: 1 },
            { night: n2, beds: 1 },
          ]),
        ),
        OVERBOOKING,
      );
      await assert.rejects(
        h.repo.transaction((tx) => tx.adjustOccupancy(alb, [{ night: n1, beds: -4 }])),
        NEGATIVE,
      );
      assert.deepEqual((await h.queries.inventory(alb, [n1, n2]))?.taken, { [n1]: 3, [n2]: 4 }, 'the refused changes rolled back whole');
      // location cuts the capacity to 2 from n1 on: allowed, the bookings stay.
      const cut = newEnvelope(AlbergueCapacityChanged, { albergue_id: alb, beds: 2, previous_beds: 4, effective_from: n1 });
      await h.repo.transaction((tx) => updateInventoryOnCapacityChanged(tx, cut));
      await assert.rejects(
        h.repo.transaction((tx) => tx.adjustOccupancy(alb, [{ night: n1, beds: 1 }])),
        OVERBOOKING,
      );
      await h.repo.transaction((tx) =>
        tx.adjustOccupancy(alb, [
          { night: n1, beds: -2 },
          { night: n2, beds: -1 },
        ]),
      );
      assert.deepEqual((await h.queries.inventory(alb, [n1, n2]))?.taken, { [n1]: 1, [n2]: 3 });
      await h.repo.transaction((tx) => tx.adjustOccupancy(alb, [{ night: n1, beds: 1 }]));
      await assert.rejects(
        h.repo.transaction((tx) => tx.adjustOccupancy(uniqueName('nope'), [{ night: n1, beds: 1 }])),
        /not known/,
      );
    });

    test('forTransaction inside the inbox transaction: effect, inbox row and outbox rows commit together; a redelivery is a duplicate; a failure rolls all back', async () => {
      const h = get();
      const clock = testClock();
      const alb = await registerAlbergue(h, 10);
      const r = await reserveBooking(reserveDeps(h, clock), stay(clock, alb));
      assert.ok(r.ok);
      const reserved = r.events[0];
      assert.ok(reserved);
      const paid = newEnvelope(
        PaymentConfirmed,
        {
          payment_id: uniqueName('pay'),
          booking_id: r.value.booking_id,
          amount: r.value.total,
          provider_reference: 'sim_1',
          confirmed_at: clock.now().toISOString(),
        },
        withCorrelation(reserved),
      );
      const deliver = (e: EventEnvelope, effect: Parameters<typeof runInbox>[2]) =>
        runInbox(h.db, { subscriber: 'booking', eventId: e.event_id, topic: PaymentConfirmed.topic }, effect);
      const first = await deliver(paid, (tx) => confirmBookingOnPaymentConfirmed({ clock }, h.repo.forTransaction(tx), paid));
      assert.equal(first.status === 'processed' && (first.value as { status: string }).status, 'applied');
      assert.equal(
        (await deliver(paid, (tx) => confirmBookingOnPaymentConfirmed({ clock }, h.repo.forTransaction(tx), paid))).status,
        'duplicate',
      );
      const types = (await h.outbox()).filter((e) => e.aggregate_id === r.value.booking_id).map((e) => e.event_type);
      assert.deepEqual(types, ['BookingReserved', 'BookingConfirmed']);
      assert.equal((await h.queries.findBooking(r.value.booking_id))?.status, 'confirmed');

      // A capacity change for an albergue not registered yet: RetryLater, and no inbox row (redelivery will run it).
      const early = newEnvelope(AlbergueCapacityChanged, { albergue_id: uniqueName('alb'), beds: 4, effective_from: clock.inDays(10) });
      await assert.rejects(
        deliver(early, (tx) => updateInventoryOnCapacityChanged(h.repo.forTransaction(tx), early)),
        RetryLater,
      );
      const inbox = await h.db.query('SELECT 1 FROM inbox_events WHERE event_id = $1', [early.event_id]);
      assert.equal(inbox.rowCount, 0);

      // A handler that writes and then fails: its writes, its outbox rows and the inbox row roll back together.
      const second = newEnvelope(PaymentConfirmed, { ...paid.payload, payment_id: uniqueName('pay') }, withCorrelation(reserved));
      await assert.rejects(
        deliver(second, async (tx) => {
          const btx = h.repo.forTransaction(tx);
          await btx.adjustOccupancy(alb, [{ night: r.value.check_in, beds: 5 }]);
          await btx.appendToOutbox([second]);
          throw new Error('handler failed');
        }),
        /handler failed/,
      );
      assert.equal((await h.db.query('SELECT 1 FROM inbox_events WHERE event_id = $1', [second.event_id])).rowCount, 0);
      assert.equal((await h.queries.inventory(alb, [r.value.check_in]))?.taken[r.value.check_in], 1);
      assert.ok(!(await h.outbox()).some((e) => e.event_id === second.event_id));
    });
  });
}
