// The operations read model end to end: location, booking, payment and operations on their own
// Postgres databases, a Redis delivery ledger, Redis for the live projections, and a Mosquitto
// started with the project's limits. Several hundred flows run (confirmed, declined and cancelled,
// expired, cancelled by the guest before and after paying, refunded); then every projection, live
// in Redis and in Postgres, equals the fold of every event the services published (their outbox
// tables), and a rebuild through the audit API's contract (a loopback stand-in serving those
// events: the real audit service is merged later) gives exactly the same rows in both stores.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createBookingService } from '@albergue/booking/service';
import type { AlbergueEvent, EventEnvelope } from '@albergue/events';
import { createLocationService } from '@albergue/location/service';
import { RedisDeliveryLedger } from '@albergue/messaging';
import type { TestBroker } from '@albergue/messaging/testing';
import { deleteNamespace, startMosquitto } from '@albergue/messaging/testing';
import type { ProjectionState } from '@albergue/operations';
import {
  MemoryEventHistory,
  OPERATIONS_PROJECTIONS,
  RedisLiveStore,
  foldProjection,
  runRebuildCli,
  startAuditStandIn,
} from '@albergue/operations';
import type { OperationsService } from '@albergue/operations/service';
import { createOperationsService } from '@albergue/operations/service';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { runFlowMix } from './flow-mix.js';
import { http, registerAlbergue } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const FLOWS = Number(process.env.OPERATIONS_E2E_FLOWS ?? '300');

const sorted = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const plain = (s: ProjectionState) => ({
  entities: Object.fromEntries(sorted(s.entities)),
  counters: Object.fromEntries(sorted(s.counters).map(([k, f]) => [k, Object.fromEntries(sorted(f))])),
});
/** Deep key order does not matter: compare canonical JSON. */
const canonical = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(canonical)
    : v !== null && typeof v === 'object'
      ? Object.fromEntries(sorted(Object.entries(v as Record<string, unknown>)).map(([k, x]) => [k, canonical(x)]))
      : v;
const same = (a: ProjectionState, b: ProjectionState) => JSON.stringify(canonical(plain(a))) === JSON.stringify(canonical(plain(b)));

describe('operations projections after several hundred flows on Postgres, Redis and Mosquitto', () => {
  let broker: TestBroker;
  let ledger: RedisDeliveryLedger;
  const ledgerNamespace = `${uniqueName('e2eops')}:`;
  const liveNamespace = `${uniqueName('e2eopslive')}:`;
  const services: ServiceRuntime[] = [];
  let operations: OperationsService;
  const databases: string[] = [];
  const urls = { location: '', booking: '', payment: '', operations: '' };
  const admin = new pg.Client({ connectionString: PG });
  const db = (name: string) => services.find((s) => s.config.service === name)!.db;

  before(async () => {
    await admin.connect();
    broker = await startMosquitto();
    ledger = new RedisDeliveryLedger({ url: REDIS, namespace: ledgerNamespace });
    const env = {
      ...process.env,
      BOOKING_HOLD_MS: '10000',
      BOOKING_EXPIRY_SWEEP_MS: '100',
      PAYMENT_SIM_LATENCY_MS: '20',
      PAYMENT_REFUND_SWEEP_MS: '200',
      PAYMENT_RECONCILE_SWEEP_MS: '200',
      OPERATIONS_REDIS_NAMESPACE: liveNamespace,
      OPERATIONS_LIVE_SYNC_MS: '200',
    };
    for (const [name, create] of [
      ['location', createLocationService],
      ['booking', createBookingService],
      ['payment', createPaymentService],
      ['operations', createOperationsService],
    ] as const) {
      const database = uniqueName(`e2e_ops_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${database}`);
      databases.push(database);
      const rt = await create({
        env,
        ledger: ledgerBundle(ledger),
        relay: { pollIntervalMs: 100 },
        config: { port: 0, mqttUrl: broker.url, databaseUrl: PG.replace(/\/[^/]*$/, `/${database}`), redisUrl: REDIS },
      });
      services.push(rt);
    }
    operations = services[3] as OperationsService;
    for (const rt of services) await rt.startConsumers();
    for (const rt of services) urls[rt.config.service as keyof typeof urls] = await rt.start();
  });

  after(async () => {
    for (const rt of [...services].reverse()) await rt.close();
    await ledger?.close();
    await deleteNamespace(REDIS, ledgerNamespace);
    await deleteNamespace(REDIS, liveNamespace);
    await broker?.close();
    for (const d of databases) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
    await admin.end();
  });

  /** Every event the three services published, from their outbox tables (the truth of "what happened"). */
  const published = async (): Promise<EventEnvelope[]> => {
    const all: EventEnvelope[] = [];
    for (const name of ['location', 'booking', 'payment'])
      all.push(
        ...(await db(name).query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id')).rows.map(
          (r) => r.envelope,
        ),
      );
    return all;
  };
  const count = async (name: string, sql: string) => Number((await db(name).query<{ n: string }>(sql)).rows[0]!.n);

  test(`${FLOWS} flows; live (Redis and Postgres) equals the fold of the published events; a rebuild from the audit contract equals the live`, async () => {
    const albergues: string[] = [];
    for (let a = 0; a < 5; a++) albergues.push(await registerAlbergue(urls, 200));
    const started = Date.now();
    await runFlowMix(urls, albergues, FLOWS, 10_000);

    // Quiet: no booking holds, no open charge, no pending refund, every outbox row published, and
    // operations has received every event of the types it reads.
    const types = new Set(OPERATIONS_PROJECTIONS.flatMap((p) => p.events.map((d) => d.name)));
    await waitFor(
      async () => {
        if ((await count('booking', "SELECT count(*) AS n FROM bookings WHERE status = 'reserved'")) > 0) return false;
        if ((await count('payment', "SELECT count(*) AS n FROM charge_attempts WHERE status IN ('pending', 'accepted')")) > 0) return false;
        if ((await count('payment', "SELECT count(*) AS n FROM refunds WHERE status = 'pending'")) > 0) return false;
        for (const s of ['location', 'booking', 'payment'])
          if ((await count(s, 'SELECT count(*) AS n FROM outbox_events WHERE published_at IS NULL')) > 0) return false;
        const expected = (await published()).filter((e) => types.has(e.event_type)).length;
        return (await count('operations', 'SELECT count(*) AS n FROM ops_journal')) === expected;
      },
      { timeoutMs: 120_000, intervalMs: 250, message: 'every flow to end and operations to receive every event' },
    );
    const flowsMs = Date.now() - started;
    const events = (await published()) as AlbergueEvent[];
    const byType = (t: string) => events.filter((e) => e.event_type === t).length;
    const mix = Object.fromEntries([...new Set(events.map((e) => e.event_type))].map((t) => [t, byType(t)]));
    for (const t of ['BookingConfirmed', 'BookingCancelled', 'ReservationExpired', 'PaymentFailed', 'PaymentRefunded'])
      assert.ok(byType(t) > 0, `the run has ${t}: ${JSON.stringify(mix)}`);

    const live = operations.liveSync.live;
    const pgStore = operations.store;
    // Redis is written after commit: wait until it has caught up, then both equal the fold of the events.
    await waitFor(
      async () => {
        for (const p of OPERATIONS_PROJECTIONS) if (!same(await live.dump(p.name), await pgStore.dump(p.name))) return false;
        return true;
      },
      { timeoutMs: 30_000, message: 'the live store to equal Postgres' },
    ).catch(async (err: unknown) => {
      for (const p of OPERATIONS_PROJECTIONS)
        assert.deepEqual(
          canonical(plain(await live.dump(p.name))),
          canonical(plain(await pgStore.dump(p.name))),
          `${p.name}: Redis vs Postgres`,
        );
      throw err;
    });
    const before = new Map<string, { redis: ProjectionState; pg: ProjectionState }>();
    for (const p of OPERATIONS_PROJECTIONS) {
      const expected = foldProjection(p, events);
      const redis = await live.dump(p.name);
      const pgState = await pgStore.dump(p.name);
      assert.ok(same(pgState, expected), `${p.name}: Postgres equals the fold of the published events`);
      assert.ok(same(redis, expected), `${p.name}: Redis equals the fold of the published events`);
      before.set(p.name, { redis, pg: pgState });
    }

    // The HTTP answers agree with what happened.
    const bookings = await http<{ overall: { total: number; reserved: number; expired: number } }>(
      'GET',
      `${urls.operations}/operations/bookings`,
    );
    assert.equal(bookings.body.overall.total, FLOWS);
    assert.equal(bookings.body.overall.reserved, 0);
    assert.equal(bookings.body.overall.expired, byType('ReservationExpired'));
    const report = await http<{ overall: unknown }>('GET', `${urls.operations}/operations/reports/bookings`);
    assert.deepEqual(report.body.overall, bookings.body.overall);
    const inFlight = await http<{ total: number }>('GET', `${urls.operations}/operations/flows-in-flight?limit=5`);
    assert.equal(inFlight.body.total, 0);

    // Rebuild every projection from the recorded events, served in recording order across services
    // (by time: events of different aggregates interleave), through the HTTP contract.
    const recorded = [...events].sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : 0));
    const audit = await startAuditStandIn(new MemoryEventHistory(recorded));
    const lines: string[] = [];
    const rebuildLive = new RedisLiveStore({ url: REDIS, namespace: liveNamespace });
    let code: number;
    const rebuildStarted = Date.now();
    try {
      code = await runRebuildCli(
        ['rebuild', 'all'],
        { AUDIT_URL: audit.url, REBUILD_PAGE_SIZE: '500' },
        { out: (l) => lines.push(l), err: (l) => lines.push(l), db: operations.db, live: rebuildLive },
      );
    } finally {
      await audit.close();
      await rebuildLive.close();
    }
    const rebuildMs = Date.now() - rebuildStarted;
    assert.equal(code, 0, lines.join('\n'));
    for (const p of OPERATIONS_PROJECTIONS) {
      const was = before.get(p.name)!;
      assert.ok(same(await pgStore.dump(p.name), was.pg), `${p.name}: rebuilt Postgres equals the live one`);
      assert.ok(same(await live.dump(p.name), was.redis), `${p.name}: rebuilt Redis equals the live one`);
    }
    const status = await pgStore.status();
    assert.ok(status.every((s) => s.rebuilt_at !== null));
    console.log(
      `operations e2e: ${FLOWS} flows, ${events.length} events in ${flowsMs} ms; rebuild of 4 projections in ${rebuildMs} ms\n  ${lines.join('\n  ')}`,
    );
  });
});
