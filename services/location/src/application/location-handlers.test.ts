import assert from 'node:assert/strict';
import type { IgnoredDecision } from '@albergue/application';
import { beforeEach, describe, test } from 'node:test';
import { MemoryAlbergueStore } from '../adapters/memory/memory-albergue-store.js';
import { CAMINO_FRANCES_SEED } from '../domain/seed.js';
import { changeCapacity } from './change-capacity.js';
import { getAlbergue, listAlbergues } from './queries.js';
import { registerAlbergue } from './register-albergue.js';
import { seedAlbergues } from './seed-albergues.js';

const clock = { now: () => new Date('2025-05-10T09:00:00.000Z') };
const config = { timeZone: 'Europe/Madrid' };
let n = 0;
let store: MemoryAlbergueStore;
const deps = () => ({ repo: store, queries: store, clock, ids: () => `alb-${++n}`, config });

beforeEach(() => {
  store = new MemoryAlbergueStore();
});

describe('location application', () => {
  test('seeding registers every seed albergue once; a second start emits nothing', async () => {
    assert.equal((await seedAlbergues(deps())).length, CAMINO_FRANCES_SEED.length);
    assert.equal(store.outbox.length, CAMINO_FRANCES_SEED.length);
    assert.deepEqual(await seedAlbergues(deps()), []);
    assert.equal(store.outbox.length, CAMINO_FRANCES_SEED.length);
    const list = await listAlbergues(deps(), { route: 'Camino Francés' });
    assert.equal(list[0]?.town, 'Roncesvalles');
    assert.equal(list.at(-1)?.town, 'Santiago de Compostela');
  });

  test('register → AlbergueRegistered starting a flow; bad input → every reason, nothing published', async () => {
    const r = await registerAlbergue(deps(), {
      name: 'Albergue Test',
      town: 'Sarria',
      route: 'Camino Francés',
      location: { lat: 42.78, lon: -7.41 },
      beds: 20,
      nightly_price: { amount_minor: 1200, currency: 'EUR' },
      command_id: 'req-1',
    });
    assert.ok(r.ok);
    const e = r.events[0]!;
    assert.equal(e.event_type, 'AlbergueRegistered');
    assert.equal(e.correlation_id, e.event_id);
    assert.equal(e.causation_id, 'req-1');
    assert.equal(r.value.albergue_id, 'alb-1');
    const bad = await registerAlbergue(deps(), {
      name: '',
      town: 'Sarria',
      route: 'Camino Francés',
      location: { lat: 95, lon: -7.41 },
      beds: 0,
      nightly_price: { amount_minor: 1200, currency: 'EUR' },
    });
    assert.ok(!bad.ok);
    assert.deepEqual(
      bad.errors.map((x) => x.code),
      ['invalid_name', 'invalid_coordinates', 'invalid_beds'],
    );
    assert.equal(store.outbox.length, 1);
  });

  test('change capacity → AlbergueCapacityChanged; the same again → no event; view shows the schedule', async () => {
    await seedAlbergues(deps());
    const before = store.outbox.length;
    const c = await changeCapacity(deps(), { albergue_id: 'burgos-casa-del-cubo', beds: 120, effective_from: '2025-06-01' });
    assert.ok(c.ok);
    assert.deepEqual(c.events[0]?.payload, {
      albergue_id: 'burgos-casa-del-cubo',
      beds: 120,
      previous_beds: 150,
      effective_from: '2025-06-01',
    });
    const reported: IgnoredDecision[] = [];
    const again = await changeCapacity(
      { ...deps(), decisions: { ignored: (r) => reported.push(r) } },
      { albergue_id: 'burgos-casa-del-cubo', beds: 120, effective_from: '2025-06-01' },
    );
    assert.ok(again.ok && again.ignored?.code === 'capacity_unchanged');
    assert.deepEqual(
      reported.map((r) => [r.decision, r.ignored.code, r.refs?.albergue_id]),
      [['ChangeCapacity', 'capacity_unchanged', 'burgos-casa-del-cubo']],
      'the no-op is reported',
    );
    assert.equal(store.outbox.length, before + 1);
    const view = await getAlbergue(deps(), 'burgos-casa-del-cubo');
    assert.equal(view?.beds, 150);
    assert.deepEqual(view?.capacity_schedule, [
      { effective_from: null, beds: 150 },
      { effective_from: '2025-06-01', beds: 120 },
    ]);
    const today = await changeCapacity(deps(), { albergue_id: 'burgos-casa-del-cubo', beds: 140 });
    assert.ok(today.ok);
    assert.equal(today.value.beds, 140);
  });

  test('unknown albergue or a past date → refused', async () => {
    const r = await changeCapacity(deps(), { albergue_id: 'nope', beds: 3 });
    assert.ok(!r.ok && r.errors[0].code === 'albergue_not_found');
    await seedAlbergues(deps());
    const past = await changeCapacity(deps(), { albergue_id: 'burgos-casa-del-cubo', beds: 3, effective_from: '2025-01-01' });
    assert.ok(!past.ok && past.errors[0].code === 'effective_from_in_past');
  });
});
