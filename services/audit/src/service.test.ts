// The audit service through a real MQTT broker (Aedes in process) on real Postgres: every event
// once (redeliveries and a second instance included), AuditLogged through the outbox and never
// audited, the events contract (paging until next_cursor is null), flows with delivery facts, and
// a broker that cannot be asked (a warning, never a 500).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import pg from 'pg';
import type { EventEnvelope } from '@albergue/events';
import {
  AuditLogged,
  BookingConfirmed,
  BookingReserved,
  PaymentConfirmed,
  PaymentInitiated,
  newEnvelope,
  withCorrelation,
} from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import { MemoryDeliveryLedger, MqttPublisher, declareService, toOutgoing } from '@albergue/messaging';
import { startAedes } from '@albergue/messaging/testing';
import type { TestAedes } from '@albergue/messaging/testing';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import type { DeliveryAnswer, DeliveryFacts, DeliveryLookup } from './application/ports.js';
import type { EventPage, FlowView } from './application/queries.js';
import { auditDeclaration } from './declaration.js';
import { createAuditService } from './service.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Delivery facts the test controls: every subscriber processed, and what was asked. */
class StubFacts implements DeliveryFacts {
  readonly asked: DeliveryLookup[][] = [];
  lookup(events: readonly DeliveryLookup[]): Promise<DeliveryAnswer> {
    this.asked.push([...events]);
    return Promise.resolve({
      deliveries: new Map(
        events.map((e) => [
          e.eventId,
          (e.subscribers ?? []).map((subscriber) => ({
            subscriber,
            state: 'processed' as const,
            attempts: 1,
            errors: [],
            processed_at: '2027-01-01T00:00:00.000Z',
          })),
        ]),
      ),
      breakers: [{ subscriber: 'payment', topic: BookingReserved.topic, state: 'open', failures: 5 }],
    });
  }
}

const booking = declareService({
  service: 'booking',
  context: 'booking',
  publishes: [BookingReserved, BookingConfirmed],
  subscribes: [{ event: PaymentConfirmed, handler: 'confirmBookingOnPaymentConfirmed' }],
});
const payment = declareService({
  service: 'payment',
  context: 'payment',
  publishes: [PaymentInitiated, PaymentConfirmed],
  subscribes: [{ event: BookingReserved, handler: 'initiatePaymentOnBookingReserved' }],
});

/** A flow: reserved → initiated → paid → confirmed (causation chained), and a second child of reserved. */
function flow(bookingId: string): EventEnvelope[] {
  const reserved = newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: bookingId });
  const initiated = newEnvelope(
    PaymentInitiated,
    { ...SAMPLE_PAYLOADS.PaymentInitiated, booking_id: bookingId },
    withCorrelation(reserved),
  );
  const paid = newEnvelope(PaymentConfirmed, { ...SAMPLE_PAYLOADS.PaymentConfirmed, booking_id: bookingId }, withCorrelation(initiated));
  const confirmed = newEnvelope(BookingConfirmed, { ...SAMPLE_PAYLOADS.BookingConfirmed, booking_id: bookingId }, withCorrelation(paid));
  return [reserved, initiated, paid, confirmed];
}

describe('audit service on Postgres and Aedes', () => {
  let aedes: TestAedes;
  const admin = new pg.Client({ connectionString: PG });
  const dbName = uniqueName('audit_svc').toLowerCase();
  const dbUrl = PG.replace(/\/[^/]*$/, `/${dbName}`);
  const runtimes: ServiceRuntime[] = [];
  let url = '';
  let url2 = '';
  let publisher: MqttPublisher;
  let observer: MqttClient;
  const auditLogged: EventEnvelope[] = [];
  const facts = new StubFacts();
  const auditDb = new pg.Client({ connectionString: dbUrl });

  before(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    aedes = await startAedes();
    observer = await mqtt.connectAsync(aedes.url, { clientId: uniqueName('observer'), protocolVersion: 4 });
    observer.on('message', (_t, payload) => auditLogged.push(JSON.parse(payload.toString()) as EventEnvelope));
    await observer.subscribeAsync('albergue/audit/#', { qos: 1 });
    // Two instances on one database, each with its own ledger (the hostile case: the ledger does not
    // deduplicate across them, so only the inbox and the unique event_id can).
    const closedPort = await freePort();
    for (const [i, deliveries, broker] of [
      ['0', facts, undefined],
      ['1', undefined, { url: `http://127.0.0.1:${closedPort}`, adminToken: 'x' }],
    ] as const) {
      const rt = await createAuditService({
        env: { ...process.env, INSTANCE_ID: i },
        ledger: ledgerBundle(new MemoryDeliveryLedger()),
        relay: { pollIntervalMs: 50 },
        config: { port: 0, mqttUrl: aedes.url, databaseUrl: dbUrl, redisUrl: undefined },
        declarations: [booking, payment, auditDeclaration],
        ...(deliveries ? { deliveries } : {}),
        ...(broker ? { broker } : {}),
      });
      runtimes.push(rt);
    }
    for (const rt of runtimes) await rt.startConsumers();
    url = await runtimes[0]!.start();
    url2 = await runtimes[1]!.start();
    publisher = await MqttPublisher.connect(aedes.url, { clientId: uniqueName('albergue-test-pub') });
    await auditDb.connect();
  });

  after(async () => {
    await publisher?.close();
    await observer?.endAsync(true);
    for (const rt of runtimes) await rt.close();
    await auditDb.end();
    await aedes?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  const get = async <T>(base: string, path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };
  const stored = async () =>
    auditDb.query<{ event_id: string; event_type: string; seq: string }>('SELECT event_id, event_type, seq FROM audit_events ORDER BY seq');

  test('every event is stored exactly once — redelivered, seen by two instances — and AuditLogged goes out through the outbox, never audited', async () => {
    const flows = Array.from({ length: 10 }, (_, i) => flow(`bk-svc-${i}`));
    const all = flows.flat();
    const results = await publisher.publish(all.map(toOutgoing));
    assert.ok(results.every((r) => r.ok));
    // The same events again: a redelivery.
    await publisher.publish(all.slice(0, 8).map(toOutgoing));
    await waitFor(async () => (await stored()).rows.length >= all.length, { message: `${all.length} events stored` });
    await waitFor(() => auditLogged.length >= all.length, { message: 'every AuditLogged published' });
    const rows = (await stored()).rows;
    assert.deepEqual(rows.map((r) => r.event_id).sort(), all.map((e) => e.event_id).sort(), 'each event once');
    assert.equal(rows.filter((r) => r.event_type === AuditLogged.name).length, 0);
    // AuditLogged: one per audited event, in the audited event's flow, caused by it.
    const outbox = await auditDb.query<{ n: string }>(`SELECT count(*) AS n FROM outbox_events WHERE topic = $1`, [AuditLogged.topic]);
    assert.equal(Number(outbox.rows[0]!.n), all.length);
    const byAudited = new Map(auditLogged.map((a) => [(a.payload as { audited_event_id: string }).audited_event_id, a]));
    for (const e of all) {
      const a = byAudited.get(e.event_id);
      assert.ok(a, `AuditLogged of ${e.event_type}`);
      assert.equal(a.causation_id, e.event_id);
      assert.equal(a.correlation_id, e.correlation_id);
    }
    assert.equal(auditLogged.length, all.length, 'one AuditLogged per event, none for a redelivery');
    // Loop-free: after the AuditLogged went out, a sentinel published later is stored, and still no AuditLogged is.
    const sentinel = flow('bk-sentinel')[0]!;
    await publisher.publish([toOutgoing(sentinel)]);
    await waitFor(async () => (await stored()).rows.some((r) => r.event_id === sentinel.event_id), { message: 'sentinel stored' });
    assert.equal((await stored()).rows.filter((r) => r.event_type === AuditLogged.name).length, 0);
    const inboxOwn = await auditDb.query<{ n: string }>('SELECT count(*) AS n FROM inbox_events WHERE topic = $1', [AuditLogged.topic]);
    assert.equal(Number(inboxOwn.rows[0]!.n), 0, 'AuditLogged never reached the handler');
    await waitFor(() => auditLogged.length >= all.length + 1, { message: 'the sentinel’s AuditLogged' });
    assert.equal(auditLogged.length, all.length + 1);
  });

  test('GET /audit/events: recording order, paging until next_cursor is null, filters, strict validation', async () => {
    const seen: EventPage['items'][number][] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=7&cursor=${cursor}` : '?limit=7';
      const r: { status: number; body: EventPage } = await get<EventPage>(url, `/audit/events${q}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.items.length <= 7);
      seen.push(...r.body.items);
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 100);
    const rows = (await stored()).rows;
    assert.deepEqual(
      seen.map((i) => i.event_id),
      rows.map((r) => r.event_id),
      'every stored event, in seq order',
    );
    assert.deepEqual(
      seen.map((i) => i.seq),
      rows.map((r) => Number(r.seq)),
    );
    const first = seen[0]!;
    assert.equal(first.envelope.event_id, first.event_id);
    assert.equal(typeof first.recorded_at, 'string');
    assert.ok(first.topic.startsWith('albergue.'));

    const byAggregate = await get<EventPage>(url, '/audit/events?aggregate_id=bk-svc-3&event_type=BookingConfirmed');
    assert.equal(byAggregate.body.items.length, 1);
    assert.equal(byAggregate.body.next_cursor, null);
    const corr = byAggregate.body.items[0]!.envelope.correlation_id;
    assert.deepEqual(
      (await get<EventPage>(url, `/audit/events?correlation_id=${corr.toUpperCase()}`)).body.items.map((i) => i.event_type),
      ['BookingReserved', 'PaymentInitiated', 'PaymentConfirmed', 'BookingConfirmed'],
      'the whole flow, in recording order',
    );
    assert.equal((await get<EventPage>(url, '/audit/events?from=2999-01-01T00:00:00Z')).body.items.length, 0);

    for (const [q, pointer] of [
      ['limit=1001', '/query/limit'],
      ['limit=0', '/query/limit'],
      ['limit=1e3', '/query/limit'],
      ['cursor=bm9wZQ', '/query/cursor'],
      ['cursor=a%00b', '/query/cursor'],
      ['event_type=booking', '/query/event_type'],
      ['correlation_id=nope', '/query/correlation_id'],
      ['from=yesterday', '/query/from'],
      ['from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z', '/query/to'],
      ['colour=blue', '/query'],
    ] as const) {
      const r = await fetch(`${url}/audit/events?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
      const body = (await r.json()) as { errors?: { path: string }[] };
      assert.ok(
        body.errors?.some((e) => e.path.startsWith(pointer)),
        `${q}: ${JSON.stringify(body)}`,
      );
    }
  });

  test('GET /audit/flows and /audit/bookings: the causal tree with the delivery facts per declared subscriber', async () => {
    const rows = await auditDb.query<{ correlation_id: string }>(
      `SELECT correlation_id FROM audit_events WHERE aggregate_id = 'bk-svc-5' AND event_type = 'BookingReserved'`,
    );
    const corr = rows.rows[0]!.correlation_id;
    const r = await get<FlowView>(url, `/audit/flows/${corr}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const f = r.body;
    assert.equal(f.event_count, 4);
    assert.equal(f.delivery_source, 'broker');
    assert.deepEqual(f.warnings, []);
    assert.equal(f.roots.length, 1);
    const chain: string[] = [];
    for (let n = f.roots[0]; n; n = n.children[0]) {
      chain.push(n.event_type);
      assert.ok(n.children.length <= 1);
    }
    assert.deepEqual(chain, ['BookingReserved', 'PaymentInitiated', 'PaymentConfirmed', 'BookingConfirmed']);
    const reserved = f.roots[0]!;
    assert.deepEqual(reserved.aggregate, { type: 'booking', id: 'bk-svc-5' });
    assert.deepEqual(
      reserved.delivery.map((d) => [d.subscriber, d.state]),
      [
        ['payment', 'processed'],
        ['audit', 'processed'],
      ],
      'the declared subscribers of BookingReserved (audit through its wildcard)',
    );
    assert.deepEqual(
      f.breakers.map((b) => [b.subscriber, b.state]),
      [['payment', 'open']],
    );
    const booked = await get<FlowView>(url, '/audit/bookings/bk-svc-5');
    assert.equal(booked.status, 200);
    assert.equal(booked.body.correlation_id, corr);

    const unknownFlow = await fetch(`${url}/audit/flows/01890a5d-ac96-774b-bcce-b302099a8057`);
    assert.equal(unknownFlow.status, 404);
    assert.equal(((await unknownFlow.json()) as { code: string }).code, 'flow_not_found');
    assert.equal((await fetch(`${url}/audit/bookings/nope`)).status, 404);
    assert.equal((await fetch(`${url}/audit/flows/not-a-uuid`)).status, 400);
  });

  test('the broker cannot be asked: the flow still comes, delivery unknown, with a warning (never a 500)', async () => {
    const r = await get<FlowView>(url2, '/audit/bookings/bk-svc-1');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.delivery_source, 'unavailable');
    assert.equal(r.body.warnings.length, 1);
    assert.match(r.body.warnings[0]!, /delivery state unknown/);
    assert.deepEqual(
      r.body.roots[0]!.delivery.map((d) => [d.subscriber, d.state]),
      [
        ['payment', 'unknown'],
        ['audit', 'unknown'],
      ],
    );
    assert.equal(r.body.event_count, 4);
  });
});
