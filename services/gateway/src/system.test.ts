// The gateway in front of the real services (location, booking, payment, documents, notifications, audit, operations on
// Postgres, an in-process MQTT broker, a mail catcher), with GATEWAY_SHARED_SECRET set on both sides as in production: every route of the
// combined OpenAPI has a policy and refuses the wrong callers; a direct request to a service is
// refused; a reservation is made, paid and confirmed through the gateway.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { createAuditService } from '@albergue/audit/service';
import { createBookingService } from '@albergue/booking/service';
import { createDocumentsService } from '@albergue/documents/service';
import { createLocationService } from '@albergue/location/service';
import type { MailCatcher } from '@albergue/mail-catcher';
import { startMailCatcher } from '@albergue/mail-catcher';
import { MemoryDeliveryLedger } from '@albergue/messaging';
import { startAedes } from '@albergue/messaging/testing';
import type { TestAedes } from '@albergue/messaging/testing';
import { createNotificationsService } from '@albergue/notifications/service';
import { MemoryLiveStore } from '@albergue/operations';
import { createOperationsService } from '@albergue/operations/service';
import { PgDatabase, quoteIdent } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { keyHashOf } from './application/keys.js';
import { parsePublicPath } from './domain/path.js';
import type { Scope } from './domain/policy.js';
import { DEFAULT_POLICY, RoutePolicy, SCOPES } from './domain/policy.js';
import type { GatewayRuntime } from './service.js';
import { createGatewayService } from './service.js';
import { ATTACKER_SPELLINGS } from './testing/attacker-spellings.js';
import { rawRequest } from './testing/raw-request.js';

const SECRET = 'system-test-shared-secret-0123456789abcdef';
const KEY: Record<Scope, string> = {
  guest: 'system-guest-key-000000000000000000000000000',
  hostel: 'system-hostel-key-00000000000000000000000000',
  operator: 'system-operator-key-000000000000000000000000',
};
const GATEWAY_KEYS = JSON.stringify(SCOPES.map((s) => ({ client_id: `sys-${s}`, key_hash: keyHashOf(KEY[s]), scopes: [s] })));

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly scopes: readonly string[];
}

describe('the gateway in front of location, booking, payment, documents, notifications, audit and operations', () => {
  let broker: TestAedes;
  let catcher: MailCatcher;
  const ledger = ledgerBundle(new MemoryDeliveryLedger());
  const services: ServiceRuntime[] = [];
  const databases: string[] = [];
  const direct: Record<string, string> = {};
  let gateway: GatewayRuntime;
  let gw = '';
  let operations: Operation[] = [];
  const admin = new PgDatabase(PG_ADMIN_URL, { max: 1 });

  before(async () => {
    broker = await startAedes();
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0 });
    const env = { ...process.env, GATEWAY_SHARED_SECRET: SECRET, PAYMENT_SIM_LATENCY_MS: '20', NODE_ENV: 'test' };
    type Options = Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'ledger' | 'relay'>>;
    const factories: [string, (o: Options) => Promise<ServiceRuntime>][] = [
      ['location', createLocationService],
      ['booking', createBookingService],
      ['payment', createPaymentService],
      ['documents', createDocumentsService],
      ['notifications', (o) => createNotificationsService({ ...o, smtpUrl: catcher.smtpUrl })],
      // Audit's delivery facts come from the broker's API, which this test does not run: flows say "unknown".
      ['audit', (o) => createAuditService({ ...o, broker: { url: 'http://127.0.0.1:9', adminToken: 'unused-in-this-test' } })],
      // Operations' live copy in memory (no shared Redis namespace).
      ['operations', (o) => createOperationsService({ ...o, live: new MemoryLiveStore() })],
    ];
    for (const [name, create] of factories) {
      const db = uniqueName(`gateway_${name}`).toLowerCase();
      await admin.exec(`CREATE DATABASE ${quoteIdent(db)}`);
      databases.push(db);
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${db}`;
      services.push(
        await create({
          env,
          ledger,
          relay: { pollIntervalMs: 100 },
          config: { port: 0, mqttUrl: broker.url, databaseUrl: url.toString() },
        }),
      );
    }
    for (const rt of services) await rt.startConsumers();
    for (const rt of services) direct[rt.config.service] = await rt.start();
    gateway = await createGatewayService({
      // The sweep sends two keyless requests per route: above the default per-IP limit for requests without a valid key.
      env: { GATEWAY_KEYS, GATEWAY_SHARED_SECRET: SECRET, GATEWAY_RATE_LIMIT: '10000', GATEWAY_IP_RATE_LIMIT: '10000' },
      config: { port: 0, mqttUrl: broker.url, upstreams: { ...direct } },
    });
    gw = await gateway.start();
    const doc = (await (await fetch(`${gw}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { 'x-albergue-scopes': string[] }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, scopes: op['x-albergue-scopes'] })),
    );
  });

  after(async () => {
    await gateway?.close();
    for (const rt of services.reverse()) await rt.close();
    await ledger.ledger.close();
    await broker?.close();
    await catcher?.close();
    for (const db of databases) await admin.exec(`DROP DATABASE IF EXISTS ${quoteIdent(db)} WITH (FORCE)`);
    await admin.close();
  });

  /** A concrete path of an OpenAPI path (every parameter filled). */
  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x-1');
  const call = (method: string, path: string, key?: string, body?: unknown) =>
    fetch(`${gw}${path}`, {
      method,
      headers: {
        ...(key !== undefined ? { 'x-api-key': key } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });

  test('the combined OpenAPI has every service route under /api/<context>, and every one has a policy entry', () => {
    const contexts = new Set(operations.map((o) => o.path.split('/')[2]));
    assert.deepEqual([...contexts].sort(), ['audit', 'booking', 'documents', 'location', 'notifications', 'operations', 'payment']);
    assert.ok(operations.length >= 20, `${operations.length} operations`);
    const policy = new RoutePolicy(DEFAULT_POLICY);
    const missing = operations.filter((o) => {
      const d = parsePublicPath(concrete(o.path));
      return !d.ok || policy.match(o.method, d.path)?.entry.path !== o.path;
    });
    assert.deepEqual(
      missing.map((o) => `${o.method} ${o.path}`),
      [],
      'every service route needs an entry in DEFAULT_POLICY (services/gateway/src/domain/policy.ts)',
    );
    for (const o of operations) assert.ok(o.scopes.length > 0, `${o.method} ${o.path} documents its scopes`);
  });

  test('every route: no key → 401, a wrong key → 401, a key of a wrong scope → 403', async () => {
    for (const o of operations) {
      const path = concrete(o.path);
      const body = o.method === 'GET' ? undefined : {};
      assert.equal((await call(o.method, path, undefined, body)).status, 401, `${o.method} ${path} without a key`);
      assert.equal((await call(o.method, path, `wrong-${'k'.repeat(40)}`, body)).status, 401, `${o.method} ${path} with a wrong key`);
      for (const scope of SCOPES.filter((s) => !o.scopes.includes(s))) {
        const res = await call(o.method, path, KEY[scope], body);
        assert.equal(res.status, 403, `${o.method} ${path} with a ${scope} key: ${await res.text()}`);
      }
      // The attacker's spellings of the route, with the right key: refused before anything is forwarded.
      const allowedKey = KEY[o.scopes[0] as Scope];
      for (const spelling of [
        path.replace('/api/', '/%61pi/'),
        path.replace('/api/', '//api/'),
        `${path}/`,
        path.replace(/\/([^/]+)$/, '/%2e%2e/$1'),
        path.replace('/api/', '/API/'),
      ]) {
        const res = await rawRequest(gw, spelling, { 'x-api-key': allowedKey, 'content-type': 'application/json' }, o.method, body && '{}');
        assert.ok([400, 404].includes(res.status), `${o.method} ${spelling} → ${res.status}`);
      }
    }
    assert.ok(ATTACKER_SPELLINGS.length > 20);
  });

  test('a direct request to a service is refused (401), the same through the gateway is answered', async () => {
    for (const [service, url] of Object.entries(direct)) {
      const path = {
        location: '/albergues',
        booking: '/guests/g-1/bookings',
        payment: '/refunds?status=failed',
        documents: '/bookings/b-1/documents',
        notifications: '/notifications?guest_id=g-1',
        audit: '/audit/events',
        operations: '/operations/bookings',
      }[service];
      assert.ok(path, service);
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 401, `${service} ${path} directly`);
      assert.equal(((await res.json()) as { code: string }).code, 'gateway_signature_required');
      // Probes stay open.
      assert.equal((await fetch(`${url}/health`)).status, 200);
    }
    const listed = await call('GET', '/api/location/albergues', KEY.guest);
    assert.equal(listed.status, 200, await listed.clone().text());
    assert.equal((await call('GET', '/api/booking/guests/g-1/bookings', KEY.guest)).status, 200);
    assert.equal((await call('GET', '/api/payment/refunds?status=failed', KEY.operator)).status, 200);
    assert.equal((await call('GET', '/api/documents/bookings/b-1/documents', KEY.hostel)).status, 200);
    assert.equal((await call('GET', '/api/notifications/notifications?guest_id=g-1', KEY.guest)).status, 200);
    assert.equal((await call('GET', '/api/audit/audit/events', KEY.operator)).status, 200);
    assert.equal((await call('GET', '/api/operations/operations/bookings', KEY.operator)).status, 200);
    // Operations' routes are the operations upstream's, not audit's (its declaration's context).
    assert.equal((await call('GET', '/api/audit/operations/bookings', KEY.operator)).status, 404);
  });

  test('a reservation through the gateway: hostel registers, guest reserves and pays, the booking is confirmed, a document validated, the guest notified', async () => {
    const albergue = uniqueName('alb').replace(/_/g, '-');
    const registered = await call('POST', '/api/location/albergues', KEY.hostel, {
      albergue_id: albergue,
      name: `Albergue ${albergue}`,
      town: 'Sarria',
      location: { lat: 42.78, lon: -7.41 },
      beds: 4,
      nightly_price: { amount_minor: 1200, currency: 'EUR' },
    });
    assert.equal(registered.status, 201, await registered.text());
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    await waitFor(
      async () =>
        (await call('GET', `/api/booking/albergues/${albergue}/availability?from=${day(20)}&to=${day(21)}`, KEY.guest)).status === 200,
      {
        timeoutMs: 30_000,
        message: 'booking to learn the albergue',
      },
    );
    const correlation = '0190a5b8-1c2d-7e3f-8a9b-0c1d2e3f4a5b';
    const reserve = await fetch(`${gw}/api/booking/bookings`, {
      method: 'POST',
      headers: {
        'x-api-key': KEY.guest,
        'content-type': 'application/json',
        'idempotency-key': `gw-${albergue}`,
        'x-correlation-id': correlation,
      },
      body: JSON.stringify({
        albergue_id: albergue,
        check_in: day(20),
        check_out: day(22),
        beds: 1,
        guest: { guest_id: 'g-gw', name: 'Ana Peregrina', email: 'ana@example.org', locale: 'es' },
      }),
    });
    assert.equal(reserve.status, 201, await reserve.clone().text());
    assert.equal(reserve.headers.get('x-correlation-id'), correlation, 'the flow the client named');
    const booking = (await reserve.json()) as { booking_id: string };
    const payment = await waitFor(
      async () => {
        const r = await call('GET', `/api/payment/bookings/${booking.booking_id}/payment?wait=8`, KEY.guest);
        return r.status === 200 ? ((await r.json()) as { payment_id: string }) : undefined;
      },
      { timeoutMs: 30_000, message: 'the payment' },
    );
    const charged = await call('POST', `/api/payment/payments/${payment.payment_id}/charge`, KEY.guest, {
      payment_method: '4242 4242 4242 4242',
    });
    assert.equal(charged.status, 202, await charged.text());
    await waitFor(
      async () =>
        ((await (await call('GET', `/api/booking/bookings/${booking.booking_id}`, KEY.guest)).json()) as { status: string }).status ===
        'confirmed',
      { timeoutMs: 30_000, message: 'the booking confirmed' },
    );
    // The guest submits a document for the booking; it is validated, and both messages are listed.
    const submitted = await fetch(`${gw}/api/documents/documents`, {
      method: 'POST',
      headers: { 'x-api-key': KEY.guest, 'content-type': 'application/json', 'idempotency-key': `doc-${albergue}` },
      body: JSON.stringify({
        guest_id: 'g-gw',
        booking_id: booking.booking_id,
        document_type: 'dni',
        number: '12345678Z',
        issuing_country: 'ESP',
        expires_on: day(3650),
        birth_date: '1990-01-01',
      }),
    });
    assert.equal(submitted.status, 202, await submitted.clone().text());
    const { document_id } = (await submitted.json()) as { document_id: string };
    await waitFor(
      async () =>
        ((await (await call('GET', `/api/documents/documents/${document_id}`, KEY.guest)).json()) as { status: string }).status ===
        'validated',
      { timeoutMs: 30_000, message: 'the document validated' },
    );
    const listed = await call('GET', `/api/documents/bookings/${booking.booking_id}/documents`, KEY.hostel);
    assert.deepEqual(
      ((await listed.json()) as { documents: { document_id: string }[] }).documents.map((d) => d.document_id),
      [document_id],
    );
    await waitFor(
      async () => {
        const r = await call('GET', `/api/notifications/notifications?booking_id=${booking.booking_id}`, KEY.guest);
        const sent = ((await r.json()) as { notifications: { template: string; status: string }[] }).notifications
          .filter((n) => n.status === 'sent')
          .map((n) => n.template);
        return sent.includes('booking_confirmed') && sent.includes('document_validated');
      },
      { timeoutMs: 30_000, message: 'the confirmation and the document mails listed' },
    );
    assert.ok(catcher.messages().some((m) => m.headers['x-albergue-booking-id'] === booking.booking_id));
    // The hostel sees the confirmed bed in its occupancy; the operator reads the booking's flow in the audit trail.
    await waitFor(
      async () => {
        const r = await call(
          'GET',
          `/api/operations/operations/occupancy?albergue_id=${albergue}&from=${day(20)}&to=${day(21)}`,
          KEY.hostel,
        );
        return r.status === 200 && ((await r.json()) as { nights: { confirmed: number }[] }).nights[0]?.confirmed === 1;
      },
      { timeoutMs: 30_000, message: 'the confirmed bed in the occupancy' },
    );
    await waitFor(
      async () => {
        const r = await call('GET', `/api/audit/audit/bookings/${booking.booking_id}`, KEY.operator);
        return r.status === 200 && (await r.text()).includes('"BookingConfirmed"');
      },
      { timeoutMs: 30_000, message: 'the booking flow in the audit trail' },
    );
    assert.equal((await call('GET', `/api/audit/audit/bookings/${booking.booking_id}`, KEY.hostel)).status, 403);
    // Validation problems of the service come back through the gateway unchanged.
    const bad = await call('POST', '/api/booking/bookings', KEY.guest, { beds: '1' });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });
});
