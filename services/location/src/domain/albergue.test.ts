// Tests are not domain code: the purity rule does not apply to the test runner.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AlbergueCommand, AlbergueDecision, AlbergueEvent, RegisterAlbergue } from './albergue.js';
import { bedsOn, decide, replay, validateRegistration } from './albergue.js';
import { CAMINO_FRANCES_SEED } from './seed.js';

const NOW = '2025-05-10T09:00:00.000Z';
const registration = (over: Partial<RegisterAlbergue['data']> = {}): AlbergueCommand => ({
  type: 'RegisterAlbergue',
  data: {
    albergue_id: 'burgos-casa-del-cubo',
    name: 'Casa del Cubo',
    town: 'Burgos',
    route: 'Camino Francés',
    location: { lat: 42.3417, lon: -3.7061 },
    beds: 150,
    nightly_price: { amount_minor: 1000, currency: 'EUR' },
    now: NOW,
    ...over,
  },
});
const registered: AlbergueEvent = {
  type: 'AlbergueRegistered',
  data: {
    albergue_id: 'burgos-casa-del-cubo',
    name: 'Casa del Cubo',
    town: 'Burgos',
    route: 'Camino Francés',
    location: { lat: 42.3417, lon: -3.7061 },
    beds: 150,
    nightly_price: { amount_minor: 1000, currency: 'EUR' },
    registered_at: NOW,
  },
};
const changeCapacity = (beds: number, effective_from: string, today = '2025-05-10'): AlbergueCommand => ({
  type: 'ChangeCapacity',
  data: { albergue_id: 'burgos-casa-del-cubo', beds, effective_from, today },
});
const changed = (beds: number, effective_from: string, previous_beds: number): AlbergueEvent => ({
  type: 'AlbergueCapacityChanged',
  data: { albergue_id: 'burgos-casa-del-cubo', beds, previous_beds, effective_from },
});

const given = (...history: AlbergueEvent[]) => ({ when: (c: AlbergueCommand) => decide(c, replay(history)) });
function thenEvents(d: AlbergueDecision, expected: AlbergueEvent[]): void {
  assert.ok(d.ok, JSON.stringify(d));
  assert.deepEqual(d.events, expected);
}
function thenRejected(d: AlbergueDecision, ...codes: string[]): void {
  assert.ok(!d.ok, JSON.stringify(d));
  assert.deepEqual(
    d.errors.map((e) => e.code),
    codes,
  );
}

describe('RegisterAlbergue', () => {
  test('new albergue → AlbergueRegistered', () => thenEvents(given().when(registration()), [registered]));
  test('names are trimmed', () => {
    const d = given().when(registration({ name: '  Casa del Cubo ' }));
    assert.ok(d.ok);
    assert.equal(d.events[0]?.type === 'AlbergueRegistered' && d.events[0].data.name, 'Casa del Cubo');
  });
  test('already registered → albergue_exists', () => thenRejected(given(registered).when(registration()), 'albergue_exists'));
  test('beds must be at least 1', () => {
    for (const beds of [0, -3, 2.5, 10_001]) thenRejected(given().when(registration({ beds })), 'invalid_beds');
  });
  test('price in whole cents, positive, with an ISO currency', () => {
    thenRejected(given().when(registration({ nightly_price: { amount_minor: 0, currency: 'EUR' } })), 'invalid_price');
    thenRejected(given().when(registration({ nightly_price: { amount_minor: 10.5, currency: 'EUR' } })), 'invalid_price');
    thenRejected(given().when(registration({ nightly_price: { amount_minor: 1000, currency: 'eur' } })), 'invalid_price');
  });
  test('coordinates on Earth', () => {
    thenRejected(given().when(registration({ location: { lat: 91, lon: 0 } })), 'invalid_coordinates');
    thenRejected(given().when(registration({ location: { lat: 0, lon: Number.NaN } })), 'invalid_coordinates');
  });
  test('every problem is listed at once', () => {
    thenRejected(
      given().when(registration({ albergue_id: '', name: ' ', beds: 0, location: { lat: 100, lon: 200 } })),
      'invalid_id',
      'invalid_name',
      'invalid_coordinates',
      'invalid_coordinates',
      'invalid_beds',
    );
  });
});

describe('ChangeCapacity', () => {
  test('registered → AlbergueCapacityChanged with previous beds and effective_from', () => {
    thenEvents(given(registered).when(changeCapacity(120, '2025-06-01')), [changed(120, '2025-06-01', 150)]);
  });
  test('0 beds closes it from that night', () =>
    thenEvents(given(registered).when(changeCapacity(0, '2025-11-01')), [changed(0, '2025-11-01', 150)]));
  test('previous_beds follows the schedule', () => {
    thenEvents(given(registered, changed(120, '2025-06-01', 150)).when(changeCapacity(90, '2025-07-01')), [changed(90, '2025-07-01', 120)]);
  });
  test('unknown albergue → albergue_not_found', () => thenRejected(given().when(changeCapacity(10, '2025-06-01')), 'albergue_not_found'));
  test('in the past → rejected; today is fine', () => {
    thenRejected(given(registered).when(changeCapacity(10, '2025-05-09')), 'effective_from_in_past');
    assert.ok(given(registered).when(changeCapacity(10, '2025-05-10')).ok);
  });
  test('bad beds and bad date listed together', () =>
    thenRejected(given(registered).when(changeCapacity(-1, '2025-13-01')), 'invalid_beds', 'invalid_date'));
  test('the same capacity again → no event', () => {
    const d = given(registered, changed(120, '2025-06-01', 150)).when(changeCapacity(120, '2025-06-01'));
    assert.ok(d.ok);
    assert.deepEqual(d.events, []);
    assert.equal(d.ignored?.code, 'capacity_unchanged');
  });
  test('a change replaces the ones scheduled after it', () => {
    const state = replay([registered, changed(0, '2025-11-01', 150), changed(100, '2025-10-01', 150)]);
    assert.ok(state.status === 'registered');
    assert.equal(bedsOn(state, '2025-12-01'), 100);
    // Same beds as now on that night, but it drops a later change → still an event.
    thenEvents(given(registered, changed(0, '2025-11-01', 150)).when(changeCapacity(150, '2025-06-01')), [changed(150, '2025-06-01', 150)]);
  });
});

describe('seed data', () => {
  test('every seeded albergue is a valid registration, on the Camino Francés, with unique ids', () => {
    assert.ok(CAMINO_FRANCES_SEED.length >= 5);
    for (const a of CAMINO_FRANCES_SEED) assert.deepEqual(validateRegistration({ ...a, now: NOW }), [], a.albergue_id);
    assert.equal(new Set(CAMINO_FRANCES_SEED.map((a) => a.albergue_id)).size, CAMINO_FRANCES_SEED.length);
    // West-bound along the way: longitude decreases from Roncesvalles to Santiago.
    const lons = CAMINO_FRANCES_SEED.map((a) => a.location.lon);
    assert.deepEqual(
      lons,
      [...lons].sort((x, y) => y - x),
    );
  });
});
