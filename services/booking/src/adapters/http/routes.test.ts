import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { AlbergueRegistered, newEnvelope } from '@albergue/events';
import { updateInventoryOnAlbergueRegistered } from '../../application/update-inventory.js';
import { MemoryBookingStore } from '../memory/memory-booking-store.js';
import { expectProblem } from '@albergue/platform/testing';
import { bookingRoutes } from './routes.js';

const store = new MemoryBookingStore();
let n = 0;
const app = Fastify();
const guest = { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' };

before(async () => {
  await store.transaction((tx) =>
    updateInventoryOnAlbergueRegistered(
      tx,
      newEnvelope(AlbergueRegistered, {
        albergue_id: 'alb-1',
        name: 'Casa del Cubo',
        town: 'Burgos',
        route: 'Camino Francés',
        location: { lat: 42.34, lon: -3.7 },
        beds: 2,
        nightly_price: { amount_minor: 1000, currency: 'EUR' },
      }),
    ),
  );
  await app.register(
    bookingRoutes({
      repo: store,
      queries: store,
      clock: { now: () => new Date('2025-05-10T09:00:00Z') },
      ids: () => `b-${++n}`,
      config: { holdMs: 900_000, timeZone: 'Europe/Madrid' },
    }),
  );
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
    const body = expectProblem(r, 400, 'invalid_request');
    const paths = new Set(body.errors?.map((p) => p.path));
    for (const expected of ['/body/albergue_id', '/body/guest/email', '/body/check_in', '/body/check_out', '/body/beds', '/body/extra'])
      assert.ok(paths.has(expected), `${expected} in ${[...paths].join(' ')}`);
    assert.equal(body.errors?.find((e) => e.path === '/body/check_out')?.code, 'required');
    assert.equal(body.errors?.find((e) => e.path === '/body/extra')?.code, 'additionalProperties');
  });

  test('no type coercion: strings, booleans and null are not numbers → 400 with the path', async () => {
    const base = { albergue_id: 'alb-1', guest, check_in: '2025-06-01', check_out: '2025-06-02' };
    for (const beds of ['1', true, null, 1.5, [1]]) {
      const body = expectProblem(await reserve({ ...base, beds }), 400, 'invalid_request');
      assert.deepEqual(
        body.errors?.map((e) => [e.path, e.code]),
        [['/body/beds', 'type']],
        JSON.stringify(beds),
      );
    }
    const g = expectProblem(await reserve({ ...base, beds: 1, guest: { ...guest, name: 7 } }), 400);
    assert.deepEqual(
      g.errors?.map((e) => e.path),
      ['/body/guest/name'],
    );
  });

  test('NUL and lone surrogates in body, query and path → 400 naming where', async () => {
    const base = { albergue_id: 'alb-1', guest, check_in: '2025-06-01', check_out: '2025-06-02', beds: 1 };
    const nul = expectProblem(await reserve({ ...base, guest: { ...guest, name: 'Ana\u0000' } }), 400, 'invalid_request');
    assert.deepEqual(
      nul.errors?.map((e) => [e.path, e.code]),
      [['/body/guest/name', 'nul_character']],
    );
    const lone = expectProblem(
      await app.inject({
        method: 'POST',
        url: '/bookings',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(base).replace('"Ana"', '"Ana\\ud800"'),
      }),
      400,
    );
    assert.deepEqual(
      lone.errors?.map((e) => [e.path, e.code]),
      [['/body/guest/name', 'lone_surrogate']],
    );
    const key = expectProblem(
      await app.inject({
        method: 'POST',
        url: '/bookings',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ ...base, 'x\u0000': 1 }),
      }),
      400,
    );
    assert.ok(key.errors?.some((e) => e.code === 'nul_character'));
    const q = expectProblem(
      await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=2025-06-01%00&to=2025-06-03' }),
      400,
    );
    assert.ok(
      q.errors?.some((e) => e.path === '/query/from' && e.code === 'nul_character'),
      JSON.stringify(q),
    );
    const p = expectProblem(await app.inject({ method: 'GET', url: '/bookings/b%00x' }), 400);
    assert.deepEqual(
      p.errors?.map((e) => [e.path, e.code]),
      [['/params/booking_id', 'nul_character']],
    );
    assert.equal(store.outbox.filter((e) => (e.payload as { guest?: { name?: string } }).guest?.name?.startsWith('Ana\u0000')).length, 0);
  });

  test('malformed JSON → 400 with a reason', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/bookings',
      headers: { 'content-type': 'application/json' },
      payload: '{"albergue_id":',
    });
    assert.deepEqual(
      expectProblem(r, 400, 'invalid_json').errors?.map((e) => e.path),
      ['/body'],
    );
    expectProblem(
      await app.inject({ method: 'POST', url: '/bookings', headers: { 'content-type': 'application/json' }, payload: '' }),
      400,
      'empty_body',
    );
    expectProblem(await app.inject({ method: 'POST', url: '/bookings' }), 400, 'empty_body');
    expectProblem(
      await app.inject({ method: 'POST', url: '/bookings', headers: { 'content-type': 'text/plain' }, payload: 'hello' }),
      415,
      'unsupported_media_type',
    );
    expectProblem(
      await app.inject({
        method: 'POST',
        url: '/bookings',
        headers: { 'content-type': 'application/json' },
        payload: `{"a":"${'x'.repeat(2 * 1024 * 1024)}"}`,
      }),
      413,
      'body_too_large',
    );
    expectProblem(
      await app.inject({
        method: 'POST',
        url: '/bookings',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__":{"x":1}}',
      }),
      400,
    );
    expectProblem(
      await app.inject({ method: 'POST', url: '/bookings', headers: { 'content-type': 'application/json' }, payload: '[]' }),
      400,
      'invalid_request',
    );
  });

  test('domain problems → 400 with every reason; nothing stored', async () => {
    const before = store.outbox.length;
    const r = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-05-01', check_out: '2025-04-20', beds: 1 });
    const body = expectProblem(r, 400, 'check_out_not_after_check_in');
    assert.deepEqual(
      body.errors?.map((p) => [p.path, p.code]),
      [
        ['/body/check_out', 'check_out_not_after_check_in'],
        ['/body/check_in', 'check_in_in_past'],
      ],
    );
    assert.match(body.detail, /must be after check_in.*in the past/);
    assert.equal(store.outbox.length, before);
  });

  test('unknown albergue → 404 (as on availability); no beds left → 409 with the reason', async () => {
    const unknown = expectProblem(
      await reserve({ albergue_id: 'nope', guest, check_in: '2025-06-01', check_out: '2025-06-02', beds: 1 }),
      404,
      'unknown_albergue',
    );
    assert.deepEqual(
      unknown.errors?.map((e) => e.path),
      ['/body/albergue_id'],
    );
    const avail = expectProblem(
      await app.inject({ method: 'GET', url: '/albergues/nope/availability?from=2025-06-01&to=2025-06-03' }),
      404,
      'unknown_albergue',
    );
    assert.deepEqual(
      avail.errors?.map((e) => e.path),
      ['/params/albergue_id'],
    );
    const full = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-06-01', check_out: '2025-06-02', beds: 2 });
    assert.match(expectProblem(full, 409, 'no_beds_left').detail, /only 1 of the 2 beds/);
  });

  test('cancel: someone else → 403; the guest → 200 cancelled; again → 409', async () => {
    const r = await reserve({ albergue_id: 'alb-1', guest, check_in: '2025-07-01', check_out: '2025-07-02', beds: 1 });
    const id = r.json<{ booking_id: string }>().booking_id;
    const other = expectProblem(
      await app.inject({ method: 'POST', url: `/bookings/${id}/cancel`, payload: { guest_id: 'g-2' } }),
      403,
      'not_your_booking',
    );
    assert.deepEqual(
      other.errors?.map((e) => e.path),
      ['/body/guest_id'],
    );
    const ok = await app.inject({ method: 'POST', url: `/bookings/${id}/cancel`, payload: { guest_id: 'g-1' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json<{ status: string }>().status, 'cancelled');
    expectProblem(
      await app.inject({ method: 'POST', url: `/bookings/${id}/cancel`, payload: { guest_id: 'g-1' } }),
      409,
      'booking_not_active',
    );
    expectProblem(await app.inject({ method: 'GET', url: '/bookings/none' }), 404, 'booking_not_found');
  });

  test('availability', async () => {
    const r = await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=2025-06-01&to=2025-06-03' });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(
      r.json<{ nights: { available: number }[] }>().nights.map((x) => x.available),
      [1, 1],
    );
    assert.deepEqual(
      expectProblem(
        await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=2025-06-03&to=2025-06-01' }),
        400,
        'invalid_range',
      ).errors?.map((e) => e.path),
      ['/query/to'],
    );
    const q = expectProblem(await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=x' }), 400, 'invalid_request');
    assert.deepEqual(q.errors?.map((e) => [e.path, e.code]).sort(), [
      ['/query/from', 'format'],
      ['/query/to', 'required'],
    ]);
    expectProblem(
      await app.inject({ method: 'GET', url: '/albergues/alb-1/availability?from=2025-06-01&from=2025-06-02&to=2025-06-03' }),
      400,
      'invalid_request',
    );
    expectProblem(await app.inject({ method: 'GET', url: '/albergues/zz/availability?from=2025-06-01&to=2025-06-03' }), 404);
  });
});
