// The operations API through the composed service (Postgres, a memory live store, no broker):
// answers from the live store and from Postgres agree; bad queries are RFC 9457 problems.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { PgDatabase, quoteIdent } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { expectProblem, uniqueName } from '@albergue/platform/testing';
import { OPERATIONS_PROJECTIONS } from '../../domain/operations-projections.js';
import type { OperationsService } from '../../service.js';
import { createOperationsService } from '../../service.js';
import { scenario } from '../../testing/scenario.js';
import { MemoryLiveStore } from '../memory/memory-live-store.js';

describe('operations HTTP API', () => {
  let rt: OperationsService;
  const database = uniqueName('operations_http').toLowerCase();
  const admin = (sql: string) => {
    const a = new PgDatabase(PG_ADMIN_URL, { max: 1 });
    return a.exec(sql).finally(() => a.close());
  };
  const { events, albergues } = scenario(21, 2, 40);

  before(async () => {
    await admin(`CREATE DATABASE ${quoteIdent(database)}`);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${database}`;
    rt = await createOperationsService({
      env: {},
      live: new MemoryLiveStore(),
      config: { port: 0, databaseUrl: url.toString(), redisUrl: undefined },
    });
    for (const e of events) {
      const changed = await rt.db.transaction((tx) => rt.store.applyLive(tx, OPERATIONS_PROJECTIONS, e));
      await rt.liveSync.push(changed);
    }
    await rt.liveSync.sync();
  });
  after(async () => {
    await rt?.close();
    await admin(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  });

  const get = async (url: string) => {
    const res = await rt.http.inject({ method: 'GET', url });
    return { status: res.statusCode, headers: res.headers, body: res.json<Record<string, unknown>>() };
  };

  test('occupancy: capacity, reserved, confirmed and free per night; live and report agree', async () => {
    const q = `albergue_id=${albergues[0]}&from=2031-05-01&to=2031-05-06`;
    const live = await get(`/operations/occupancy?${q}`);
    assert.equal(live.status, 200, JSON.stringify(live.body));
    const report = await get(`/operations/reports/occupancy?${q}`);
    assert.deepEqual({ ...report.body, source: 'live' }, live.body);
    const nights = live.body.nights as { night: string; capacity: number; reserved: number; confirmed: number; free: number }[];
    assert.equal(nights.length, 5);
    assert.equal(nights[0]!.capacity, 20);
    assert.equal(nights[3]!.capacity, 10, 'the capacity change from 2031-05-04 on');
    for (const n of nights) assert.equal(n.free, n.capacity - n.reserved - n.confirmed);
    assert.ok(nights.some((n) => n.reserved + n.confirmed > 0));
  });

  test('bookings, payments and flows in flight answer from both stores alike', async () => {
    for (const path of ['bookings', 'payments', `bookings?albergue_id=${albergues[1]}`]) {
      const live = await get(`/operations/${path}`);
      const report = await get(`/operations/reports/${path}`);
      assert.equal(live.status, 200);
      assert.deepEqual({ ...report.body, source: 'live' }, live.body, path);
    }
    const overall = (await get('/operations/bookings')).body.overall as { total: number };
    assert.equal(overall.total, events.filter((e) => e.event_type === 'BookingReserved').length);
    const flows = await get('/operations/flows-in-flight?limit=2');
    const list = flows.body.flows as { reserved_at: string; waited_ms: number }[];
    assert.ok((flows.body.total as number) >= list.length);
    assert.ok(list.length <= 2);
    if (list.length === 2) assert.ok(list[0]!.reserved_at <= list[1]!.reserved_at, 'oldest first');
  });

  test('bad queries are problems with a pointer; an unknown albergue is a 404', async () => {
    expectProblem(
      await rt.http.inject({ method: 'GET', url: '/operations/occupancy?albergue_id=x&from=2031-05-01' }),
      400,
      'invalid_request',
    );
    const range = await get(`/operations/occupancy?albergue_id=${albergues[0]}&from=2031-05-01&to=2031-12-01`);
    assert.equal(range.status, 400);
    assert.equal(range.body.code, 'invalid_range');
    const unknown = await get('/operations/occupancy?albergue_id=nowhere&from=2031-05-01&to=2031-05-02');
    assert.equal(unknown.status, 404);
    assert.deepEqual((unknown.body.errors as { path: string }[])[0]!.path, '/query/albergue_id');
    assert.match(String(unknown.headers['content-type']), /application\/problem\+json/);
    for (const limit of ['0', '1001x', '-1', 'abc', '10000'])
      expectProblem(await rt.http.inject({ method: 'GET', url: `/operations/flows-in-flight?limit=${limit}` }), 400, 'invalid_request');
    expectProblem(await rt.http.inject({ method: 'GET', url: '/operations/payments?extra=1' }), 400, 'invalid_request');
    expectProblem(await rt.http.inject({ method: 'GET', url: '/operations/bookings?albergue_id=%00' }), 400, 'invalid_request');
  });

  test('the projections list says when each was rebuilt and whether its live copy is stale', async () => {
    const r = await get('/operations/projections');
    assert.equal(r.body.live_store, 'memory');
    const list = r.body.projections as { projection: string; live_stale: boolean }[];
    assert.deepEqual(
      list.map((p) => p.projection),
      OPERATIONS_PROJECTIONS.map((p) => p.name),
    );
    assert.ok(list.every((p) => !p.live_stale));
  });
});
