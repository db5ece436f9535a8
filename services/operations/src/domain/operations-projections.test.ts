import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { prng, scenario, shuffled } from '../testing/scenario.js';
import {
  bookings,
  capacityOn,
  flows,
  nightField,
  nightsCounterKey,
  occupancy,
  payments,
  OPERATIONS_PROJECTIONS,
} from './operations-projections.js';
import type { AlbergueCapacityDoc } from './operations-projections.js';
import { foldProjection } from './projection.js';
import type { ProjectionState } from './projection.js';

const plain = (s: ProjectionState) => ({
  entities: Object.fromEntries([...s.entities].sort(([a], [b]) => (a < b ? -1 : 1))),
  counters: Object.fromEntries(
    [...s.counters].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, f]) => [k, Object.fromEntries([...f].sort())]),
  ),
});

describe('operations projections', () => {
  test('every arrival order gives the same projection (10 shuffles of 3 histories, every projection)', () => {
    for (const seed of [1, 2, 3]) {
      const { events } = scenario(seed, 3, 60);
      const rnd = prng(seed * 7);
      for (const p of OPERATIONS_PROJECTIONS) {
        const expected = plain(foldProjection(p, events));
        for (let i = 0; i < 10; i++)
          assert.deepEqual(plain(foldProjection(p, shuffled(events, rnd))), expected, `${p.name}, seed ${seed}, shuffle ${i}`);
      }
    }
  });

  test('occupancy: a reserved booking holds its beds per night as reserved, a confirmed one as confirmed, an ended one none', () => {
    const { events } = scenario(4, 1, 30);
    const s = foldProjection(occupancy, events);
    const nights = s.counters.get(nightsCounterKey('alb-4-0'));
    assert.ok(nights, 'some beds are held');
    const bedNights = { reserved: 0, confirmed: 0 };
    for (const e of events) {
      if (e.event_type !== 'BookingReserved') continue;
      const d = s.entities.get(`booking:${e.payload.booking_id}`) as { status: string };
      const n = (Date.parse(e.payload.check_out) - Date.parse(e.payload.check_in)) / 86_400_000;
      if (d.status === 'reserved' || d.status === 'confirmed') bedNights[d.status] += n * e.payload.beds;
    }
    const sum = (suffix: string) => [...nights].filter(([f]) => f.endsWith(suffix)).reduce((t, [, v]) => t + v, 0);
    assert.ok(bedNights.confirmed > 0 && bedNights.reserved > 0, 'the scenario has both');
    assert.equal(sum('|reserved'), bedNights.reserved);
    assert.equal(sum('|confirmed'), bedNights.confirmed);
    const albergue = s.entities.get('albergue:alb-4-0') as AlbergueCapacityDoc;
    assert.equal(capacityOn(albergue, '2031-05-01'), 20, 'registered beds before the change');
    assert.equal(capacityOn(albergue, '2031-05-04'), 10, 'the change from its night on');
    assert.equal(nights.get(nightField('2031-04-30', 'reserved')), undefined);
  });

  test('a capacity change that overtakes its registration, and two changes for one night: the later event wins in any order', () => {
    const { events } = scenario(5, 1, 0);
    const [registered, change] = events as [(typeof events)[0], (typeof events)[0]];
    const later = { ...change, event_id: change.event_id.replace(/.$/, (c) => (c === 'f' ? 'e' : 'f')) } as typeof change;
    const laterWins = later.event_id > change.event_id ? later : change;
    for (const order of [
      [registered, change, later],
      [later, change, registered],
      [change, registered, later],
    ]) {
      const doc = foldProjection(occupancy, order).entities.get('albergue:alb-5-0') as AlbergueCapacityDoc;
      assert.equal(doc.beds, 20);
      assert.equal(doc.changes['2031-05-04']?.event_id, laterWins.event_id);
    }
  });

  test('bookings, payments and flows count what the history says', () => {
    const { events } = scenario(6, 2, 80);
    const b = foldProjection(bookings, events).counters.get('all')!;
    const count = (t: string) => events.filter((e) => e.event_type === t).length;
    const total = [...b.values()].reduce((x, y) => x + y, 0);
    assert.equal(total, count('BookingReserved'));
    assert.equal(b.get('expired') ?? 0, count('ReservationExpired'));
    const inFlight = foldProjection(flows, events);
    const reservedOnly = [...inFlight.entities.values()].filter((d) => (d as { status: string }).status === 'reserved').length;
    assert.equal(b.get('reserved') ?? 0, reservedOnly);
    const p = foldProjection(payments, events).counters;
    const refunds = p.get('refunds');
    const refundEvents = events.filter((e) => e.event_type === 'PaymentRefunded');
    assert.equal((refunds?.get('EUR|count') ?? 0) + (refunds?.get('GBP|count') ?? 0), refundEvents.length);
    const failed = p.get('status:failed');
    assert.equal((failed?.get('EUR|count') ?? 0) + (failed?.get('GBP|count') ?? 0), count('PaymentFailed'));
  });

  test('a booking confirmed before its reservation arrived: not in flight, its nights counted once the reservation comes', () => {
    const { events } = scenario(7, 1, 20);
    const confirmed = events.find((e) => e.event_type === 'BookingConfirmed')!;
    const bookingId = (confirmed.payload as { booking_id: string }).booking_id;
    const ofBooking = events.filter(
      (e) => (e.payload as { booking_id?: string }).booking_id === bookingId && e.event_type.startsWith('Booking'),
    );
    const reversed = [...ofBooking].reverse();
    const f = foldProjection(flows, reversed);
    assert.deepEqual(flows.contributions(`booking:${bookingId}`, f.entities.get(`booking:${bookingId}`)!).indexes, []);
    const onlyConfirmed = foldProjection(occupancy, [confirmed]);
    assert.equal(onlyConfirmed.counters.size, 0, 'no nights known yet: nothing counted');
  });
});
