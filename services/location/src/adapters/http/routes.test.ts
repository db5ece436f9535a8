import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { seedAlbergues } from '../../application/seed-albergues.js';
import { MemoryAlbergueStore } from '../memory/memory-albergue-store.js';
import { expectProblem } from '@albergue/platform/testing';
import { locationRoutes } from './routes.js';

const store = new MemoryAlbergueStore();
const deps = {
  repo: store,
  queries: store,
  clock: { now: () => new Date('2025-05-10T09:00:00Z') },
  ids: () => 'alb-new',
  config: { timeZone: 'Europe/Madrid' },
};
const app = Fastify();

before(async () => {
  await seedAlbergues(deps);
  await app.register(locationRoutes(deps));
});
after(() => app.close());

describe('location HTTP API', () => {
  test('list and get the seeded albergues', async () => {
    const list = await app.inject({ method: 'GET', url: '/albergues?route=Camino%20Franc%C3%A9s' });
    assert.equal(list.statusCode, 200, list.body);
    assert.ok(list.json<{ albergues: unknown[] }>().albergues.length >= 5);
    const one = await app.inject({ method: 'GET', url: '/albergues/burgos-casa-del-cubo' });
    assert.equal(one.json<{ town: string }>().town, 'Burgos');
    assert.deepEqual(
      expectProblem(await app.inject({ method: 'GET', url: '/albergues/nope' }), 404, 'albergue_not_found').errors?.map((e) => e.path),
      ['/params/albergue_id'],
    );
  });

  test('register → 201; again → 409; bad input → 400 with every problem', async () => {
    const body = {
      name: 'Albergue de Sarria',
      town: 'Sarria',
      location: { lat: 42.78, lon: -7.41 },
      beds: 40,
      nightly_price: { amount_minor: 1200 },
    };
    const r = await app.inject({ method: 'POST', url: '/albergues', payload: body });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json<{ route: string; nightly_price: { currency: string } }>().route, 'Camino Francés');
    const again = expectProblem(
      await app.inject({
        method: 'POST',
        url: '/albergues',
        payload: { ...body, albergue_id: r.json<{ albergue_id: string }>().albergue_id },
      }),
      409,
      'albergue_exists',
    );
    assert.deepEqual(
      again.errors?.map((e) => e.path),
      ['/body/albergue_id'],
    );
    const bad = await app.inject({
      method: 'POST',
      url: '/albergues',
      payload: { name: '', town: 'X', location: { lat: 100, lon: 0 }, beds: 0, nightly_price: { amount_minor: -1 } },
    });
    assert.deepEqual(
      expectProblem(bad, 400, 'invalid_request')
        .errors?.map((e) => e.path)
        .sort(),
      ['/body/beds', '/body/location/lat', '/body/name', '/body/nightly_price/amount_minor'],
    );
    const nul = expectProblem(
      await app.inject({ method: 'POST', url: '/albergues', payload: { ...body, location: { lat: null, lon: '1' } } }),
      400,
    );
    assert.deepEqual(nul.errors?.map((e) => e.path).sort(), ['/body/location/lat', '/body/location/lon']);
  });

  test('change capacity → 200 with the schedule; past date → 400; unknown → 404', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/albergues/burgos-casa-del-cubo/capacity',
      payload: { beds: 100, effective_from: '2025-06-01' },
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ capacity_schedule: unknown[] }>().capacity_schedule.length, 2);
    const past = expectProblem(
      await app.inject({
        method: 'POST',
        url: '/albergues/burgos-casa-del-cubo/capacity',
        payload: { beds: 100, effective_from: '2020-06-01' },
      }),
      400,
      'effective_from_in_past',
    );
    assert.deepEqual(
      past.errors?.map((e) => e.path),
      ['/body/effective_from'],
    );
    expectProblem(await app.inject({ method: 'POST', url: '/albergues/nope/capacity', payload: { beds: 1 } }), 404, 'albergue_not_found');
  });
});
