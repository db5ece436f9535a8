import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { AlbergueRegistered, newEnvelope } from '@albergue/events';
import { updateInventoryOnAlbergueRegistered } from '../../application/update-inventory';
import { MemoryBookingStore } from '../memory/memory-booking-store';
import { bookingRoutes } from './routes';

const store = new MemoryBookingStore();
let n = 0;
const app = Fastify();
const guest = { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' };

before(async () => {
  await store.transaction((tx) => updateInventoryOnAlbergueRegistered(tx, newEnvelope(AlbergueRegistered, {
    albergue_id: 'alb-1', name: 'Casa del Cubo', town: 'Burgos', route: 'Camino Francés', location: { lat: 42.34, lon: -3.7 }, beds: 2, nightly_price: { amount_minor: 1000, currency: 'EUR' },
  })));
  await app.register(bookingRoutes({
    repo: store, queries: store, clock: { now: () => new Date('2025-05-10T09:00:00Z') }, ids: () => `b-${++n}`, config: { holdMs: 900_000, timeZone: 'Europe/Madrid' },
  }));
});
after(() => app.close());

const reserve = (body: unknown) => app.inject({ method: 'POST', url: '/bookings', payload: body as object });

describe('booking HTTP API', () => {
  test('POST /bookings → 201 with the booking, then GET it', async () => {
    const r = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-06-01', check_out: '2025-06-03', beds: 1 });
    assert.equal(r.statusCode, 201, r.body);
    const body = r.json<{ booking_id: string; status: string; total: unknown }>();
    assert.equal(body.status, 'reserved');
    assert.deepEqual(body.total, { amount_minor: 2000, currency: 'EUR' });
    assert.equal(r.headers.location, `/bookings/${body.booking_id}`);
    const g = await app.inject({ method: 'GET', url: `/bookings/${body.booking_id}` });
    assert.equal(g.statusCode, 200);
    const list = await app.inject({ method: 'GET', url: '/guests/g-1/bookings' });
    assert.equal(list.json<{ bookings: unknown[] }>().bookings.length, 1);
  });

  test('schema problems → 400 listing every one', async () => {
    const r = await reserve({ albergue_id: '', guest: { ...guest, email: 'nope' }, check_in: 'tomorrow', beds: 0, extra: 1 });
    assert.equal(r.statusCode, 400);
    const body = r.json<{ error: string; problems: { path: string; message: string }[] }>();
    assert.equal(body.error, 'invalid_request');
    const text = body.problems.map((p) => `${p.path} ${p.message}`).join('\n');
    for (const expected of ['/body/albergue_id', '/body/guest/email', '/body/check_in', 'check_out', '/body/beds', 'unknown field "extra"']) assert.match(text, new RegExp(expected.replace(/[/"]/g, '.')));
  });

  test('malformed JSON → 400 with a reason', async () => {
    const r = await app.inject({ method: 'POST', url: '/bookings', headers: { 'content-type': 'application/json' }, payload: '{"albergue_id":' });
    assert.equal(r.statusCode, 400);
    assert.ok(r.json<{ message: string }>().message.length > 0);
  });

  test('domain problems → 400 with every reason; nothing stored', async () => {
    const before = store.outbox.length;
    const r = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-05-01', check_out: '2025-04-20', beds: 1 });
    assert.equal(r.statusCode, 400);
    assert.deepEqual(r.json<{ problems: { path: string }[] }>().problems.map((p) => p.path), ['/check_out_not_after_check_in', '/check_in_in_past']);
    assert.equal(store.outbox.length, before);
  });

  test('unknown albergue → 422; no beds left → 409 with the reason', async () => {
    assert.equal((await reserve({ albergue_id: 'nope', guest, check_in: '2025-06-01', check_out: '2025-06-02', beds: 1 })).statusCode, 422);
    const full = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-06-01', check_out: '2025-06-02', beds: 2 });
    assert.equal(full.statusCode, 409);
    assert.match(full.json<{ message: string }>().message, /only 1 of the 2 beds/);
  });

  test('cancel: someone else → 403; the guest → 200 cancelled; again → 409', async () => {
    const r = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-07-01', check_out: '2025-07-02', beds: 1 });
    const id = r.json<{ booking_id: string }>().booking_id;
    assert.equal((await app.inject({ method: 'POST', url: `/bookings/${id}/cancel`, payload: { guest_id: 'g-2' } })).statusCode, 403);
    const ok = await app.inject({ method: 'POST', url: `/bookings/${id}/cancel`, payload: { guest_id: 'g-1' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json<{ status: string }>().status, 'cancelled');
    assert.equal((await app.inject({ method: 'POST', url: `/bookings/${id}/cancel`, payload: { guest_id: 'g-1' } })).statusCode, 409);
    assert.equal((await app.inject({ method: 'GET', url: '/bookings/none' })).statusCode, 404);
  });

  test('availability', async () => {
    const r = await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=2025-06-01&to=2025-06-03' });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json<{ nights: { available: number }[] }>().nights.map((x) => x.available), [1, 1]);
    assert.equal((await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=2025-06-03&to=2025-06-01' })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=x' })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/albergues/zz/availability?from=2025-06-01&to=2025-06-03' })).statusCode, 404);
  });
});
