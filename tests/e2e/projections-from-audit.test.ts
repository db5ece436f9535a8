// Issue 14's key test end to end: the operations projections rebuilt from the REAL audit store equal the
// live ones. Location, booking, payment, audit and operations run in this process, each on its own
// Postgres database, with a Redis delivery ledger shared with the broker service (Aedes, in process)
// and Redis for the live projections. Several hundred flows run (confirmed, declined, cancelled by the
// guest before and after paying, holds expiring); once the audit store holds every published event
// exactly once (event ids compared with the outbox tables; one AuditLogged per audited event), every
// projection is rebuilt through the audit service's HTTP API by the code of `npm run
// projections:rebuild -- all`, and the rebuilt rows equal the live ones in Postgres and in Redis.
// Re-applying already applied events (a duplicate delivery to the projection handler) changes nothing.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createAuditService } from '@albergue/audit/service';
import { createBookingService } from '@albergue/booking/service';
import type { RunningBroker } from '@albergue/broker';
import { devPassword, startBroker } from '@albergue/broker';
import type { AlbergueEvent, EventEnvelope } from '@albergue/events';
import { createLocationService } from '@albergue/location/service';
import { RedisDeliveryLedger } from '@albergue/messaging';
import { deleteNamespace } from '@albergue/messaging/testing';
import type { ProjectionState } from '@albergue/operations';
import { OPERATIONS_PROJECTIONS, canonical, foldProjection, runRebuildCli } from '@albergue/operations';
import type { OperationsService } from '@albergue/operations/service';
import { createOperationsService } from '@albergue/operations/service';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { SYSTEM_DECLARATIONS } from '../../scripts/declarations.js';
import { runFlowMix } from './flow-mix.js';
import { http, registerAlbergue } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const FLOWS = Number(process.env.REBUILD_E2E_FLOWS ?? '300');
const ADMIN = 'rebuild-e2e-admin-token-0123456789';
const PUBLISHERS = ['location', 'booking', 'payment'] as const;

const byKey = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
/** A projection as canonical JSON: key order (entities, counters, document fields) does not matter. */
const json = (s: ProjectionState) =>
  JSON.stringify({
    entities: Object.fromEntries(byKey(s.entities).map(([k, d]) => [k, canonical(d)])),
    counters: Object.fromEntries(byKey(s.counters).map(([k, f]) => [k, Object.fromEntries(byKey(f))])),
  });

describe('projections rebuilt from the real audit store equal the live ones (Postgres, Redis, the broker service)', () => {
  let broker: RunningBroker;
  let ledger: RedisDeliveryLedger;
  let operations: OperationsService;
  const ledgerNamespace = `${uniqueName('rebuild_e2e')}:`;
  const liveNamespace = `${uniqueName('rebuild_e2e_live')}:`;
  const services: ServiceRuntime[] = [];
  const databases: string[] = [];
  const urls = { location: '', booking: '', payment: '', audit: '', operations: '' };
  const admin = new pg.Client({ connectionString: PG });
  const db = (name: string) => services.find((s) => s.config.service === name)!.db;
  const count = async (name: string, sql: string) => Number((await db(name).query<{ n: string }>(sql)).rows[0]!.n);

  before(async () => {
    await admin.connect();
    ledger = new RedisDeliveryLedger({ url: REDIS, namespace: ledgerNamespace });
    broker = await startBroker({
      mqttPort: 0,
      wsPort: null,
      httpPort: 0,
      declarations: SYSTEM_DECLARATIONS,
      users: new Map([...SYSTEM_DECLARATIONS.map((d) => d.service), 'observer'].map((u) => [u, devPassword(u)])),
      adminToken: ADMIN,
      ledger: ledgerBundle(ledger),
    });
    const env = {
      ...process.env,
      BOOKING_HOLD_MS: '3000',
      BOOKING_EXPIRY_SWEEP_MS: '100',
      PAYMENT_SIM_LATENCY_MS: '20',
      PAYMENT_REFUND_SWEEP_MS: '200',
      PAYMENT_RECONCILE_SWEEP_MS: '200',
      OPERATIONS_REDIS_NAMESPACE: liveNamespace,
      OPERATIONS_LIVE_SYNC_MS: '200',
    };
    const factories = {
      location: createLocationService,
      booking: createBookingService,
      payment: createPaymentService,
      audit: (o: Parameters<typeof createLocationService>[0]) =>
        createAuditService({ ...o, broker: { url: broker.httpUrl, adminToken: ADMIN }, declarations: SYSTEM_DECLARATIONS }),
      operations: createOperationsService,
    };
    for (const [name, create] of Object.entries(factories)) {
      const database = uniqueName(`rebuild_e2e_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${database}`);
      databases.push(database);
      services.push(
        await create({
          env,
          ledger: ledgerBundle(ledger),
          relay: { pollIntervalMs: 100 },
          config: { port: 0, mqttUrl: broker.mqttUrl, databaseUrl: PG.replace(/\/[^/]*$/, `/${database}`), redisUrl: REDIS },
        }),
      );
    }
    operations = services.find((s) => s.config.service === 'operations') as OperationsService;
    for (const rt of services) await rt.startConsumers();
    for (const rt of services) urls[rt.config.service as keyof typeof urls] = await rt.start();
  });

  after(async () => {
    for (const rt of [...services].reverse()) await rt.close();
    await broker?.close(); // closes the ledger it was given
    await deleteNamespace(REDIS, ledgerNamespace);
    await deleteNamespace(REDIS, liveNamespace);
    for (const d of databases) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
    await admin.end();
  });

  /** Every event location, booking and payment published (their outbox tables: the truth of what happened). */
  const published = async (): Promise<EventEnvelope[]> =>
    (
      await Promise.all(
        PUBLISHERS.map(async (s) =>
          (await db(s).query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id')).rows.map((r) => r.envelope),
        ),
      )
    ).flat();

  test(`${FLOWS} flows; the audit store holds every published event once; each projection rebuilt from it equals the live one in Postgres and Redis`, async () => {
    const albergues: string[] = [];
    for (let a = 0; a < 5; a++) albergues.push(await registerAlbergue(urls, 200));
    const started = Date.now();
    await runFlowMix(urls, albergues, FLOWS, 20_000);

    // Quiet: every flow ended, every outbox row published, audit holds them all, operations received
    // every event of the types it reads.
    const types = new Set(OPERATIONS_PROJECTIONS.flatMap((p) => p.events.map((d) => d.name)));
    const quiet = () =>
      waitFor(
        async () => {
          if ((await count('booking', "SELECT count(*) AS n FROM bookings WHERE status = 'reserved'")) > 0) return false;
          if ((await count('payment', "SELECT count(*) AS n FROM charge_attempts WHERE status IN ('pending', 'accepted')")) > 0)
            return false;
          if ((await count('payment', "SELECT count(*) AS n FROM refunds WHERE status = 'pending'")) > 0) return false;
          for (const s of [...PUBLISHERS, 'audit'])
            if ((await count(s, 'SELECT count(*) AS n FROM outbox_events WHERE published_at IS NULL')) > 0) return false;
          const events = await published();
          if ((await count('audit', 'SELECT count(*) AS n FROM audit_events')) < events.length) return false;
          return (
            (await count('operations', 'SELECT count(*) AS n FROM ops_journal')) === events.filter((e) => types.has(e.event_type)).length
          );
        },
        { timeoutMs: 180_000, intervalMs: 250, message: 'every flow to end, audit to record and operations to receive every event' },
      );

    await quiet();
    const flowsMs = Date.now() - started;
    const events = (await published()) as AlbergueEvent[];

    // Exactly once: the audit store's event ids are the outbox's, each once; one AuditLogged per audited event, none audited.
    const audited = (
      await db('audit').query<{ event_id: string; n: string }>(
        'SELECT event_id, count(*) OVER (PARTITION BY event_id) AS n FROM audit_events',
      )
    ).rows;
    assert.deepEqual(
      audited.map((r) => r.event_id).sort(),
      events.map((e) => e.event_id).sort(),
      'the audit store holds exactly the published events',
    );
    assert.ok(
      audited.every((r) => r.n === '1'),
      'each event once',
    );
    assert.equal(
      await count('audit', "SELECT count(*) AS n FROM outbox_events WHERE topic = 'albergue.audit.v1.AuditLogged'"),
      events.length,
    );
    assert.equal(await count('audit', "SELECT count(*) AS n FROM audit_events WHERE event_type = 'AuditLogged'"), 0);
    const byType = (t: string) => events.filter((e) => e.event_type === t).length;
    const mix = Object.fromEntries([...new Set(events.map((e) => e.event_type))].map((t) => [t, byType(t)]));
    for (const t of ['BookingConfirmed', 'BookingCancelled', 'ReservationExpired', 'PaymentFailed', 'PaymentRefunded'])
      assert.ok(byType(t) > 0, `the run has ${t}: ${JSON.stringify(mix)}`);

    // Live: Redis (written after commit) catches up with Postgres; both equal the fold of the published events.
    const live = operations.liveSync.live;
    const store = operations.store;
    const dumps = async () => {
      const d = new Map<string, { redis: string; pg: string }>();
      for (const p of OPERATIONS_PROJECTIONS) d.set(p.name, { redis: json(await live.dump(p.name)), pg: json(await store.dump(p.name)) });
      return d;
    };
    await waitFor(async () => [...(await dumps()).values()].every((d) => d.redis === d.pg), {
      timeoutMs: 30_000,
      message: 'the live store to equal Postgres',
    });
    const liveBefore = await dumps();
    for (const p of OPERATIONS_PROJECTIONS) {
      const expected = json(foldProjection(p, events));
      assert.equal(liveBefore.get(p.name)!.pg, expected, `${p.name}: live Postgres equals the fold of the published events`);
      assert.equal(liveBefore.get(p.name)!.redis, expected, `${p.name}: live Redis equals the fold of the published events`);
    }
    const bookings = await http<{ overall: { total: number; reserved: number; expired: number } }>(
      'GET',
      `${urls.operations}/operations/bookings`,
    );
    assert.equal(bookings.body.overall.total, FLOWS);
    assert.equal(bookings.body.overall.expired, byType('ReservationExpired'));

    // A duplicate delivery to the projection handler (every event applied a second time, as a
    // redelivery past the inbox would) changes no row and no live key.
    for (const e of events)
      if (types.has(e.event_type)) {
        const changed = await operations.db.transaction((tx) => store.applyLive(tx, OPERATIONS_PROJECTIONS, e));
        assert.equal(changed.size, 0, `${e.event_type} ${e.event_id} applied twice changed nothing`);
      }
    assert.deepEqual(await dumps(), liveBefore, 'duplicates changed nothing');

    // The rebuild, through the real audit service's HTTP API, by the CLI's code (npm run projections:rebuild -- all).
    const lines: string[] = [];
    const rebuildStarted = Date.now();
    const rebuildEnv = {
      AUDIT_URL: urls.audit,
      OPERATIONS_DATABASE_URL: operations.config.databaseUrl!,
      REDIS_URL: REDIS,
      OPERATIONS_REDIS_NAMESPACE: liveNamespace,
    };
    const code = await runRebuildCli(['rebuild', '--', 'all'], rebuildEnv, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const rebuildMs = Date.now() - rebuildStarted;
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(
      lines.some((l) => l.includes(`done: ${events.length} events`)),
      lines.join('\n'),
    );
    const rebuilt = await dumps();
    for (const p of OPERATIONS_PROJECTIONS) {
      assert.equal(rebuilt.get(p.name)!.pg, liveBefore.get(p.name)!.pg, `${p.name}: rebuilt Postgres equals the live one`);
      assert.equal(rebuilt.get(p.name)!.redis, liveBefore.get(p.name)!.redis, `${p.name}: rebuilt Redis equals the live one`);
    }
    const status = await store.status();
    assert.ok(
      status.every((s) => s.rebuilt_at !== null && (s.rebuilt_events ?? 0) > 0),
      JSON.stringify(status),
    );

    // Hostile: a second rebuild while 50 more flows run (events reach operations before audit records
    // them, or after the history was read: the journal catch-up). Quiet again, both stores equal the
    // fold of every published event.
    const more = runFlowMix(urls, albergues, 50, 40_000);
    const duringLines: string[] = [];
    const during = await runRebuildCli(['rebuild', '--', 'all'], rebuildEnv, {
      out: (l) => duringLines.push(l),
      err: (l) => duringLines.push(l),
    });
    await more;
    assert.equal(during, 0, duringLines.join('\n'));
    await quiet();
    const all = (await published()) as AlbergueEvent[];
    await waitFor(async () => [...(await dumps()).values()].every((d) => d.redis === d.pg), {
      timeoutMs: 30_000,
      message: 'the live store to equal Postgres after the rebuild under load',
    });
    const after = await dumps();
    for (const p of OPERATIONS_PROJECTIONS) {
      const expected = json(foldProjection(p, all));
      assert.equal(after.get(p.name)!.pg, expected, `${p.name}: Postgres equals the fold after a rebuild under load`);
      assert.equal(after.get(p.name)!.redis, expected, `${p.name}: Redis equals the fold after a rebuild under load`);
    }
    console.log(
      `projections from audit: ${FLOWS} flows, ${events.length} events in ${flowsMs} ms; rebuild of 4 projections from the audit API in ${rebuildMs} ms\n  ${lines.join('\n  ')}\n  under load (+50 flows): ${duringLines.filter((l) => l.includes('caught up')).join('; ')}`,
    );
  });
});
