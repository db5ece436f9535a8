// Tests are not domain code: the purity rule does not apply to the test runner.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addDays, daysBetween, isCalendarDate, nightsOf } from '@albergue/decider';
import type { AlbergueInventory } from './inventory.js';
import { applyOccupancy, availabilityBetween, capacityOn, evolveInventory, shortages } from './inventory.js';

const registered = {
  type: 'AlbergueRegistered' as const,
  data: {
    albergue_id: 'a1',
    name: 'Jesús y María',
    town: 'Pamplona',
    route: 'Camino Francés',
    location: { lat: 42.8, lon: -1.6 },
    beds: 20,
    nightly_price: { amount_minor: 1300, currency: 'EUR' },
  },
};
const change = (effective_from: string, beds: number) => ({
  type: 'AlbergueCapacityChanged' as const,
  data: { albergue_id: 'a1', beds, effective_from },
});

function build(...facts: Parameters<typeof evolveInventory>[1][]): AlbergueInventory {
  const inv = facts.reduce<AlbergueInventory | undefined>(evolveInventory, undefined);
  assert.ok(inv);
  return inv;
}

describe('inventory from location events', () => {
  test('AlbergueRegistered gives the base capacity and price', () => {
    const inv = build(registered);
    assert.equal(capacityOn(inv, '2025-01-01'), 20);
    assert.deepEqual(inv.nightly_price, { amount_minor: 1300, currency: 'EUR' });
  });

  test('AlbergueCapacityChanged applies from its effective night on', () => {
    const inv = build(registered, change('2025-06-10', 30));
    assert.equal(capacityOn(inv, '2025-06-09'), 20);
    assert.equal(capacityOn(inv, '2025-06-10'), 30);
    assert.equal(capacityOn(inv, '2026-01-01'), 30);
  });

  test('a change replaces changes recorded for the same or later nights', () => {
    const inv = build(registered, change('2025-07-01', 0), change('2025-06-10', 30), change('2025-06-01', 25));
    assert.deepEqual(inv.capacity_changes, [{ effective_from: '2025-06-01', beds: 25 }]);
    const inv2 = build(registered, change('2025-06-01', 25), change('2025-07-01', 0));
    assert.equal(capacityOn(inv2, '2025-06-15'), 25);
    assert.equal(capacityOn(inv2, '2025-07-01'), 0);
  });

  test('a capacity change for an albergue not yet registered → undefined (retry later)', () => {
    assert.equal(evolveInventory(undefined, change('2025-06-01', 5)), undefined);
  });

  test('re-registration keeps occupancy and schedule', () => {
    const inv = applyOccupancy(build(registered, change('2025-06-01', 25)), [{ night: '2025-06-02', beds: 3 }]);
    const again = evolveInventory(inv, { ...registered, data: { ...registered.data, beds: 22 } });
    assert.equal(again?.taken['2025-06-02'], 3);
    assert.equal(again?.capacity_changes.length, 1);
    assert.equal(again?.beds, 22);
  });
});

describe('availability', () => {
  test('per night: capacity, taken, available', () => {
    const inv = applyOccupancy(build(registered), [
      { night: '2025-06-01', beds: 5 },
      { night: '2025-06-02', beds: 20 },
    ]);
    assert.deepEqual(availabilityBetween(inv, '2025-06-01', '2025-06-04'), [
      { night: '2025-06-01', capacity: 20, taken: 5, available: 15 },
      { night: '2025-06-02', capacity: 20, taken: 20, available: 0 },
      { night: '2025-06-03', capacity: 20, taken: 0, available: 20 },
    ]);
  });

  test('a capacity cut below the beds already held: available is 0, never negative', () => {
    const inv = applyOccupancy(build(registered, change('2025-06-01', 4)), [{ night: '2025-06-01', beds: 6 }]);
    assert.deepEqual(availabilityBetween(inv, '2025-06-01', '2025-06-02'), [{ night: '2025-06-01', capacity: 4, taken: 6, available: 0 }]);
  });

  test('shortages lists exactly the nights that cannot take the beds', () => {
    const inv = applyOccupancy(build(registered), [{ night: '2025-06-02', beds: 19 }]);
    assert.deepEqual(
      shortages(inv, { check_in: '2025-06-01', check_out: '2025-06-04', beds: 2 }).map((n) => n.night),
      ['2025-06-02'],
    );
    assert.deepEqual(shortages(inv, { check_in: '2025-06-01', check_out: '2025-06-04', beds: 1 }), []);
  });
});

describe('dates', () => {
  test('calendar dates, nights and day arithmetic', () => {
    assert.ok(isCalendarDate('2024-02-29'));
    assert.ok(!isCalendarDate('2025-02-29'));
    assert.ok(!isCalendarDate('2025-6-1'));
    assert.deepEqual(nightsOf('2025-12-30', '2026-01-02'), ['2025-12-30', '2025-12-31', '2026-01-01']);
    assert.deepEqual(nightsOf('2025-06-01', '2025-06-01'), []);
    assert.equal(addDays('2025-03-30', 1), '2025-03-31');
    assert.equal(daysBetween('2025-06-01', '2025-07-01'), 30);
  });
});
