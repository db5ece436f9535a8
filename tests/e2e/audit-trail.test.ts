// The audit trail end to end on real infrastructure: location, booking, payment and audit in this
// process, each on its own Postgres database, a Redis delivery ledger shared with the broker service
// (Aedes, in process: its HTTP API answers the delivery facts), and a test subscriber whose handlers
// fail. The value streams run; every published event is in the audit store exactly once (compared
// with the services' outbox tables); the flow of a confirmed booking has the expected shape and
// causation; a flow stuck behind the failing subscriber shows the pending event, its attempts, the
// DLQ entry and the open breaker; the operator CLI prints it.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { createAuditService } from '@albergue/audit/service';
import type { FlowEventView, FlowView } from '@albergue/audit';
import { createBookingService } from '@albergue/booking/service';
import type { RunningBroker } from '@albergue/broker';
import { devPassword, startBroker } from '@albergue/broker';
import { BookingConfirmed, PaymentInitiated } from '@albergue/events';
import { createLocationService } from '@albergue/location/service';
import type { Consumer, ServiceDeclaration } from '@albergue/messaging';
import { RedisDeliveryLedger, createConsumer, declareService } from '@albergue/messaging';
import { deleteNamespace } from '@albergue/messaging/testing';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { SYSTEM_DECLARATIONS } from '../../scripts/declarations.js';
import type { Urls } from './guest.js';
import { http, registerAlbergue, reservation, reserveAndPay, waitForBookingStatus } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = 'audit-e2e-admin-token-0123456789';
const exec = promisify(execFile);

/** A subscriber whose handlers always fail: BookingConfirmed retries then dead-letters; PaymentInitiated opens its breaker. */
const FLAKY = declareService({
  service: 'flaky',
  context: 'notifications',
  publishes: [],
  subscribes: [
    {
      event: BookingConfirmed,
      handler: 'failOnBookingConfirmed',
      policy: {
        maxAttempts: 3,
        backoff: { initialMs: 700, maxMs: 1_000, multiplier: 1.5, jitter: 0 },
        breaker: { failureThreshold: 1_000, windowMs: 10_000, openMs: 10_000 },
      },
    },
    {
      event: PaymentInitiated,
      handler: 'failOnPaymentInitiated',
      policy: { maxAttempts: 5, breaker: { failureThreshold: 1, windowMs: 60_000, openMs: 120_000 } },
    },
  ],
});
// The services this test runs (a flow's subscribers are taken from these): the rest of the system is not started here.
const RUNNING = new Set(['location', 'booking', 'payment', 'audit']);
const DECLARATIONS: readonly ServiceDeclaration[] = [...SYSTEM_DECLARATIONS.filter((d) => RUNNING.has(d.service)), FLAKY];

const walk = (nodes: readonly FlowEventView[]): FlowEventView[] => nodes.flatMap((n) => [n, ...walk(n.children)]);

describe('audit trail on Postgres, Redis and the broker service', () => {
  let broker: RunningBroker;
  let ledger: RedisDeliveryLedger;
  let flaky: Consumer;
  const ledgerNamespace = `${uniqueName('audit_e2e')}:`;
  const services: ServiceRuntime[] = [];
  const databases = new Map<string, string>();
  const urls = { location: '', booking: '', payment: '', audit: '' };
  const admin = new pg.Client({ connectionString: PG });
  const dbUrl = (name: string) => PG.replace(/\/[^/]*$/, `/${databases.get(name)}`);
  const rows = async <R extends Record<string, unknown>>(service: string, text: string, params: unknown[] = []): Promise<R[]> => {
    const c = new pg.Client({ connectionString: dbUrl(service) });
    await c.connect();
    try {
      return (await c.query<R>(text, params)).rows;
    } finally {
      await c.end();
    }
  };
  const flowOf = async (bookingId: string) => http<FlowView>('GET', `${urls.audit}/audit/bookings/${bookingId}`);

  before(async () => {
    await admin.connect();
    ledger = new RedisDeliveryLedger({ url: REDIS, namespace: ledgerNamespace });
    broker = await startBroker({
      mqttPort: 0,
      wsPort: null,
      httpPort: 0,
      declarations: DECLARATIONS,
      users: new Map([...DECLARATIONS.map((d) => d.service), 'observer'].map((u) => [u, devPassword(u)])),
      adminToken: ADMIN,
      ledger: ledgerBundle(ledger),
    });
    const env = {
      ...process.env,
      BOOKING_HOLD_MS: '2000',
      BOOKING_EXPIRY_SWEEP_MS: '100',
      PAYMENT_SIM_LATENCY_MS: '20',
      PAYMENT_REFUND_SWEEP_MS: '200',
    };
    const factories = {
      location: createLocationService,
      booking: createBookingService,
      payment: createPaymentService,
      audit: (o: Parameters<typeof createLocationService>[0]) =>
        createAuditService({ ...o, broker: { url: broker.httpUrl, adminToken: ADMIN }, declarations: DECLARATIONS }),
    };
    for (const [name, create] of Object.entries(factories)) {
      const db = uniqueName(`audit_e2e_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${db}`);
      databases.set(name, db);
      services.push(
        await create({
          env,
          ledger: ledgerBundle(ledger),
          relay: { pollIntervalMs: 100 },
          config: { port: 0, mqttUrl: broker.mqttUrl, databaseUrl: dbUrl(name), redisUrl: REDIS },
        }),
      );
    }
    flaky = createConsumer({
      declaration: FLAKY,
      mqtt: { url: broker.mqttUrl, username: 'flaky', password: devPassword('flaky') },
      instanceId: uniqueName('e2e'),
      ledger,
      deadLetters: ledger.deadLetters,
      breakers: ledger.breakers,
    });
    flaky.on(BookingConfirmed, 'failOnBookingConfirmed', () => {
      throw new Error('mail relay unavailable');
    });
    flaky.on(PaymentInitiated, 'failOnPaymentInitiated', () => {
      throw new Error('ledger of payments unavailable');
    });
    await flaky.start();
    for (const rt of services) await rt.startConsumers();
    for (const rt of services) urls[rt.config.service as keyof typeof urls] = await rt.start();
  });

  after(async () => {
    await flaky?.close();
    for (const rt of services.reverse()) await rt.close();
    await broker?.close(); // closes the ledger it was given
    await deleteNamespace(REDIS, ledgerNamespace);
    for (const db of databases.values()) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  });

  test('the value streams run and every published event is in the audit store exactly once', async () => {
    const u = urls as Urls;
    const albergue = await registerAlbergue(u, 6);
    const paid = await reserveAndPay(u, albergue, 1, '4242424242424242');
    const declined = await reserveAndPay(u, albergue, 2, '4000000000000002');
    const unpaid = await http<{ booking_id: string }>('POST', `${urls.booking}/bookings`, reservation(albergue, 3, 1, 1));
    assert.equal(unpaid.status, 201);
    await waitForBookingStatus(u, paid.bookingId, 'confirmed');
    await waitForBookingStatus(u, declined.bookingId, 'cancelled');
    await waitForBookingStatus(u, unpaid.body.booking_id, 'expired');

    // Every outbox row of location, booking and payment, once published, is in audit_events once.
    const published = async () =>
      (
        await Promise.all(
          ['location', 'booking', 'payment'].map((s) =>
            rows<{ event_id: string; event_type: string }>(
              s,
              `SELECT event_id, envelope->>'event_type' AS event_type FROM outbox_events WHERE published_at IS NOT NULL`,
            ),
          ),
        )
      ).flat();
    const audited = () =>
      rows<{ event_id: string; n: string }>('audit', 'SELECT event_id, count(*) OVER (PARTITION BY event_id) AS n FROM audit_events');
    await waitFor(
      async () => {
        const want = await published();
        const have = new Set((await audited()).map((r) => r.event_id));
        return want.length > 0 && want.every((r) => have.has(r.event_id));
      },
      { timeoutMs: 30_000, message: 'every published event in the audit store' },
    );
    // Wait for the outboxes to drain, then compare both ways.
    await waitFor(
      async () => {
        const unpublished = await Promise.all(
          ['location', 'booking', 'payment'].map((s) =>
            rows<{ n: string }>(s, 'SELECT count(*) AS n FROM outbox_events WHERE published_at IS NULL'),
          ),
        );
        return unpublished.every((r) => r[0]!.n === '0');
      },
      { message: 'outboxes drained' },
    );
    const want = await published();
    await waitFor(async () => (await audited()).length >= want.length, { message: 'audit caught up' });
    const have = await audited();
    assert.deepEqual(
      have.map((r) => r.event_id).sort(),
      want.map((r) => r.event_id).sort(),
      'the audit store holds exactly the published events',
    );
    assert.ok(have.every((r) => r.n === '1'));
    const types = new Set(want.map((r) => r.event_type));
    for (const t of [
      'AlbergueRegistered',
      'BookingReserved',
      'PaymentInitiated',
      'PaymentConfirmed',
      'BookingConfirmed',
      'PaymentFailed',
      'BookingCancelled',
      'ReservationExpired',
    ])
      assert.ok(types.has(t), `${t} among the audited events`);
    // audit's own AuditLogged: one per audited event in its outbox, none audited.
    const logged = await rows<{ n: string }>(
      'audit',
      `SELECT count(*) AS n FROM outbox_events WHERE topic = 'albergue.audit.v1.AuditLogged'`,
    );
    assert.equal(Number(logged[0]!.n), have.length);
    assert.equal((await rows('audit', `SELECT 1 FROM audit_events WHERE event_type = 'AuditLogged'`)).length, 0);
    // The table refuses changes to what it holds.
    await assert.rejects(rows('audit', `UPDATE audit_events SET topic = 'x'`), /append-only/);
    await assert.rejects(rows('audit', `DELETE FROM audit_events`), /append-only/);
  });

  test('the flow of a confirmed booking: its causal chain, each subscriber processed; stuck behind a failing subscriber: pending with attempts, then the DLQ entry; the open breaker; the CLI prints it', async () => {
    const u = urls as Urls;
    const albergue = await registerAlbergue(u, 4);
    const { bookingId } = await reserveAndPay(u, albergue, 7, '4242424242424242');
    await waitForBookingStatus(u, bookingId, 'confirmed');
    const find = (f: FlowView, type: string) => walk(f.roots).find((n) => n.event_type === type);
    const stateOf = (n: FlowEventView | undefined, sub: string) => n?.delivery.find((d) => d.subscriber === sub);

    // Pending: BookingConfirmed failed for flaky at least once, retry scheduled.
    const pending = await waitFor(
      async () => {
        const r = await flowOf(bookingId);
        const d = stateOf(r.status === 200 ? find(r.body, 'BookingConfirmed') : undefined, 'flaky');
        return d && (d.state === 'pending' || d.state === 'leased') && d.attempts >= 1 && d.errors.length >= 1 ? r.body : undefined;
      },
      { timeoutMs: 20_000, message: 'BookingConfirmed pending for flaky with its failed attempt' },
    );
    const pendingDelivery = stateOf(find(pending, 'BookingConfirmed'), 'flaky')!;
    assert.equal(pendingDelivery.errors[0]?.message, 'mail relay unavailable');
    assert.equal(pendingDelivery.max_attempts, 3);

    // Then, with its budget spent: the DLQ entry; and every declared subscriber of the flow processed.
    const flow = await waitFor(
      async () => {
        const r = await flowOf(bookingId);
        if (r.status !== 200) return undefined;
        const confirmed = find(r.body, 'BookingConfirmed');
        const settled = walk(r.body.roots).every((n) =>
          n.delivery.every((d) =>
            d.subscriber === 'flaky'
              ? d.state === 'dead_lettered' || d.state === 'pending' || d.state === 'leased'
              : d.state === 'processed',
          ),
        );
        return stateOf(confirmed, 'flaky')?.state === 'dead_lettered' && settled ? r.body : undefined;
      },
      { timeoutMs: 30_000, message: 'the DLQ entry of BookingConfirmed for flaky, everything else processed' },
    );
    assert.equal(flow.delivery_source, 'broker');
    assert.equal(flow.roots.length, 1, 'one root: BookingReserved, caused by the reservation command');
    const chain: string[] = [];
    for (let n: FlowEventView | undefined = flow.roots[0]; n; n = n.children.find((c) => c.event_type !== 'PaymentRefunded'))
      chain.push(n.event_type);
    assert.deepEqual(chain, ['BookingReserved', 'PaymentInitiated', 'PaymentConfirmed', 'BookingConfirmed']);
    const [reserved, initiated, paidEvt, confirmed] = ['BookingReserved', 'PaymentInitiated', 'PaymentConfirmed', 'BookingConfirmed'].map(
      (t) => find(flow, t)!,
    );
    assert.equal(reserved!.event_id, flow.correlation_id);
    assert.equal(initiated!.causation_id, reserved!.event_id);
    assert.equal(paidEvt!.causation_id, initiated!.event_id);
    assert.equal(confirmed!.causation_id, paidEvt!.event_id);
    assert.deepEqual(reserved!.aggregate, { type: 'booking', id: bookingId });
    assert.deepEqual(reserved!.delivery.map((d) => [d.subscriber, d.state]).sort(), [
      ['audit', 'processed'],
      ['payment', 'processed'],
    ]);
    assert.deepEqual(stateOf(paidEvt, 'booking')?.state, 'processed');
    assert.ok(stateOf(paidEvt, 'booking')?.processed_at);
    const dlq = stateOf(confirmed, 'flaky')!;
    assert.equal(dlq.dead_letter?.reason, 'max_attempts');
    assert.equal(dlq.dead_letter?.attempts, 3);
    assert.equal(dlq.dead_letter?.id, confirmed!.event_id);
    assert.deepEqual(
      dlq.dead_letter?.errors.map((e) => e.message),
      ['mail relay unavailable', 'mail relay unavailable', 'mail relay unavailable'],
    );
    // PaymentInitiated: flaky's breaker on it opened at its first failure (threshold 1, in this flow or an
    // earlier one): the event waits in the ledger, not attempted again while the breaker is open.
    const waiting = stateOf(initiated, 'flaky')!;
    assert.equal(waiting.state, 'pending');
    assert.ok(waiting.attempts <= 1, `attempts ${waiting.attempts}`);
    assert.ok(
      flow.breakers.some((b) => b.subscriber === 'flaky' && b.topic === PaymentInitiated.topic && b.state === 'open'),
      JSON.stringify(flow.breakers),
    );

    // The operator's one-line question, through the installed bin (built by the test runner).
    const { stdout } = await exec(process.execPath, ['services/audit/bin/albergue-audit.js', 'flow', bookingId], {
      env: { ...process.env, AUDIT_URL: urls.audit, NO_COLOR: '1' },
    });
    const lines = stdout.split('\n');
    assert.match(lines[0]!, new RegExp(`^flow ${flow.correlation_id}: \\d+ event\\(s\\)$`));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const iReserved = at(/^BookingReserved v1 .* booking /);
    const iInitiated = at(/└─ PaymentInitiated v1|├─ PaymentInitiated v1/);
    const iConfirmed = at(/BookingConfirmed v1/);
    assert.ok(iReserved === 1 && iInitiated > iReserved && iConfirmed > iInitiated, stdout);
    assert.ok(lines[iInitiated]!.startsWith('└─ ') || lines[iInitiated]!.startsWith('├─ '), 'a child is indented under its parent');
    assert.ok(
      lines.some((l) => /✓ payment processed at \d\d:\d\d:\d\d/.test(l)),
      stdout,
    );
    assert.ok(
      lines.some((l) => /✗ flaky DLQ: max_attempts after 3 attempt\(s\): mail relay unavailable/.test(l)),
      stdout,
    );
    assert.ok(
      lines.some((l) => /… flaky pending \(attempt [12] of 5/.test(l)),
      stdout,
    );
    assert.ok(
      lines.some((l) => l.includes(`breaker flaky on ${PaymentInitiated.topic}: open`)),
      stdout,
    );
    console.log(stdout);
  });
});
