// The reservation value streams end to end on real infrastructure: three services in this process,
// each on its own real Postgres database, a Redis delivery ledger, and a Mosquitto started with the
// project's limits. Everything crosses context boundaries through MQTT events only.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createBookingService } from '@albergue/booking/service';
import type { EventEnvelope } from '@albergue/events';

import { createLocationService } from '@albergue/location/service';
import { RedisDeliveryLedger } from '@albergue/messaging';
import type { TestBroker } from '@albergue/messaging/testing';
import { deleteNamespace, startMosquitto } from '@albergue/messaging/testing';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import type { Urls } from './guest.js';
import { day, http, observeEvents, registerAlbergue, reservation, reserveAndPay, waitForBookingStatus } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('reservation value streams on Postgres, Redis and Mosquitto', () => {
  let broker: TestBroker;
  let ledger: RedisDeliveryLedger;
  const ledgerNamespace = `${uniqueName('e2e')}:`;
  let observer: Awaited<ReturnType<typeof observeEvents>> | undefined;
  const services: ServiceRuntime[] = [];
  const databases: string[] = [];
  const seen = (): EventEnvelope[] => observer?.seen ?? [];
  const urls = { location: '', booking: '', payment: '' };
  const admin = new pg.Client({ connectionString: PG });

  const eventsOf = (correlationId: string) => seen().filter((e) => e.correlation_id === correlationId);
  const find = (type: string, pred: (e: EventEnvelope) => boolean = () => true) => seen().find((e) => e.event_type === type && pred(e));
  const ofBooking = (bookingId: string) => (e: EventEnvelope) => (e.payload as { booking_id?: string }).booking_id === bookingId;

  before(async () => {
    await admin.connect();
    broker = await startMosquitto();
    ledger = new RedisDeliveryLedger({ url: REDIS, namespace: ledgerNamespace });
    observer = await observeEvents(broker.url);

    const env = {
      ...process.env,
      BOOKING_HOLD_MS: '2000',
      BOOKING_EXPIRY_SWEEP_MS: '100',
      PAYMENT_SIM_LATENCY_MS: '20',
      PAYMENT_REFUND_SWEEP_MS: '200',
    };
    for (const [name, create] of [
      ['location', createLocationService],
      ['booking', createBookingService],
      ['payment', createPaymentService],
    ] as const) {
      const db = uniqueName(`e2e_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${db}`);
      databases.push(db);
      const rt = await create({
        env,
        ledger: ledgerBundle(ledger),
        relay: { pollIntervalMs: 100 },
        config: { port: 0, mqttUrl: broker.url, databaseUrl: PG.replace(/\/[^/]*$/, `/${db}`), redisUrl: REDIS },
      });
      services.push(rt);
    }
    for (const rt of services) await rt.startConsumers();
    for (const rt of services) urls[rt.config.service as keyof Urls] = await rt.start();
  });

  after(async () => {
    for (const rt of services.reverse()) await rt.close();
    await observer?.close();
    await ledger?.close();
    await deleteNamespace(REDIS, ledgerNamespace); // what the run put in Redis
    await broker?.close();
    for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  });

  test('reserve → payment initiated → callback → PaymentConfirmed → BookingConfirmed, one flow, causally chained', async () => {
    const albergue = await registerAlbergue(urls, 6);
    const { bookingId, paymentId } = await reserveAndPay(urls, albergue, 1, '4242424242424242');
    const booking = await waitForBookingStatus(urls, bookingId, 'confirmed');
    assert.equal(booking.payment_id, paymentId);

    const confirmed = await waitFor(() => find('BookingConfirmed', ofBooking(bookingId)), { message: 'BookingConfirmed on MQTT' });
    const flow = eventsOf(confirmed.correlation_id);
    const byType = (t: string) => flow.find((e) => e.event_type === t)!;
    for (const t of ['BookingReserved', 'PaymentInitiated', 'PaymentConfirmed', 'BookingConfirmed'])
      assert.ok(byType(t), `${t} missing from the flow ${confirmed.correlation_id}`);
    const reserved = byType('BookingReserved');
    assert.equal(reserved.correlation_id, reserved.event_id, 'the flow starts with BookingReserved');
    assert.equal(byType('PaymentInitiated').causation_id, reserved.event_id);
    assert.equal(byType('PaymentConfirmed').causation_id, byType('PaymentInitiated').event_id);
    assert.equal(byType('BookingConfirmed').causation_id, byType('PaymentConfirmed').event_id);
  });

  test('a declined card cancels the booking with reason payment_failed', async () => {
    const albergue = await registerAlbergue(urls, 4);
    const { bookingId } = await reserveAndPay(urls, albergue, 2, '4000000000000002');
    const booking = await waitForBookingStatus(urls, bookingId, 'cancelled');
    assert.equal(booking.cancel_reason, 'payment_failed');
    const failed = await waitFor(() => find('PaymentFailed', ofBooking(bookingId)), { message: 'PaymentFailed' });
    assert.equal((failed.payload as { reason_code: string }).reason_code, 'card_declined');
    const cancelled = await waitFor(() => find('BookingCancelled', ofBooking(bookingId)), { message: 'BookingCancelled' });
    assert.equal((cancelled.payload as { reason: string }).reason, 'payment_failed');
    assert.equal(cancelled.causation_id, failed.event_id);
  });

  test('an unpaid hold expires: ReservationExpired, and the beds are free again', async () => {
    const albergue = await registerAlbergue(urls, 2);
    const r = await http<{ booking_id: string }>('POST', `${urls.booking}/bookings`, reservation(albergue, 3, 1, 2));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const q = `${urls.booking}/albergues/${albergue}/availability?from=${day(20)}&to=${day(21)}`;
    assert.equal((await http<{ bookable_beds: number }>('GET', q)).body.bookable_beds, 0);
    await waitForBookingStatus(urls, r.body.booking_id, 'expired');
    const expired = await waitFor(() => find('ReservationExpired', ofBooking(r.body.booking_id)), { message: 'ReservationExpired' });
    assert.equal(expired.correlation_id, find('BookingReserved', ofBooking(r.body.booking_id))!.event_id);
    assert.equal((await http<{ bookable_beds: number }>('GET', q)).body.bookable_beds, 2);
  });

  test('a capacity change reaches availability', async () => {
    const albergue = await registerAlbergue(urls, 3);
    const q = `${urls.booking}/albergues/${albergue}/availability?from=${day(20)}&to=${day(21)}`;
    const changed = await http('POST', `${urls.location}/albergues/${albergue}/capacity`, { beds: 9, effective_from: day(1) });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await waitFor(async () => (await http<{ bookable_beds: number }>('GET', q)).body.bookable_beds === 9, {
      message: 'availability to show 9 beds',
    });
  });

  test('50 concurrent reservations for 10 beds: exactly 10 succeed, the rest get 409 with the reason', async () => {
    const albergue = await registerAlbergue(urls, 10);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        http<{ code?: string; detail?: string }>('POST', `${urls.booking}/bookings`, reservation(albergue, 100 + i)),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409);
    assert.equal(ok.length, 10);
    assert.equal(refused.length, 40);
    for (const r of refused) {
      assert.equal(r.body.code, 'no_beds_left');
      assert.ok(r.body.detail && r.body.detail.length > 0);
    }
    const avail = await http<{ bookable_beds: number }>(
      'GET',
      `${urls.booking}/albergues/${albergue}/availability?from=${day(20)}&to=${day(22)}`,
    );
    assert.equal(avail.body.bookable_beds, 0);
  });

  test('bad input gets 4xx with reasons; nothing is stored or published', async () => {
    // Counted per albergue: earlier tests' holds keep expiring (ReservationExpired) meanwhile.
    const albergue = await registerAlbergue(urls, 5);
    const outboxBefore = Number(
      (
        await services[1]!.db.query<{ n: string }>(
          "SELECT count(*) AS n FROM outbox_events WHERE envelope->'payload'->>'albergue_id' = ANY($1)",
          [[albergue, 'no-such-albergue']],
        )
      ).rows[0]!.n,
    );
    const base = reservation(albergue, 900);
    const cases: [unknown, RegExp][] = [
      [{ ...base, check_in: day(-3), check_out: day(-1) }, /in_past/],
      [{ ...base, check_in: day(22), check_out: day(20) }, /check_out/],
      [{ ...base, beds: 0 }, /invalid_request/],
      [{ ...base, beds: -2 }, /invalid_request/],
      [{ ...base, albergue_id: 'no-such-albergue' }, /unknown_albergue/],
    ];
    for (const [body, code] of cases) {
      const r = await http<{ code: string; detail: string }>('POST', `${urls.booking}/bookings`, body);
      const what = `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`;
      assert.ok(r.status >= 400 && r.status < 500, what);
      assert.match(r.body.code, code, what);
      assert.ok(r.body.detail.length > 0, what);
    }
    const malformed = await fetch(`${urls.booking}/bookings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"albergue_id": ',
    });
    assert.equal(malformed.status, 400);
    const outboxAfter = Number(
      (
        await services[1]!.db.query<{ n: string }>(
          "SELECT count(*) AS n FROM outbox_events WHERE envelope->'payload'->>'albergue_id' = ANY($1)",
          [[albergue, 'no-such-albergue']],
        )
      ).rows[0]!.n,
    );
    assert.equal(outboxAfter, outboxBefore, 'a refused request wrote an event');
  });
});
