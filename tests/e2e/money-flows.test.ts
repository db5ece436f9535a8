// Money on real infrastructure: location, booking and TWO payment instances (two service runtimes on
// one payment database), each on real Postgres, a Redis delivery ledger and a Mosquitto broker.
// One charge fired at both instances at once; callbacks that never get through; a payment that
// arrives after the hold ended.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createBookingService } from '@albergue/booking/service';
import type { EventEnvelope } from '@albergue/events';

import { createLocationService } from '@albergue/location/service';
import { RedisDeliveryLedger } from '@albergue/messaging';
import type { TestBroker } from '@albergue/messaging/testing';
import { deleteNamespace, startMosquitto } from '@albergue/messaging/testing';
import type { PaymentService } from '@albergue/payment/service';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { http, observeEvents, registerAlbergue, reservation, waitForBookingStatus } from './guest.js';

const PG = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOLD_MS = 6000;

describe('money: charges, recovery and refunds with two payment instances', () => {
  let broker: TestBroker;
  let ledger: RedisDeliveryLedger;
  const ledgerNamespace = `${uniqueName('money')}:`;
  let observer: Awaited<ReturnType<typeof observeEvents>> | undefined;
  const services: ServiceRuntime[] = [];
  const payments: PaymentService[] = [];
  const databases: string[] = [];
  const seen = (): EventEnvelope[] => observer?.seen ?? [];
  const urls = { location: '', booking: '', payment: '', paymentB: '' };
  const admin = new pg.Client({ connectionString: PG });
  let paymentDb: pg.Client;
  // Callback deliveries of both instances' networks, and a switch to make them fail.
  let failCallbacks = false;
  const deliveries = new Map<string, number[]>();

  const find = (type: string, bookingId: string) =>
    seen().filter((e) => e.event_type === type && (e.payload as { booking_id?: string }).booking_id === bookingId);
  const dbUrl = (db: string) => PG.replace(/\/[^/]*$/, `/${db}`);

  async function reserve(albergue: string, n: number): Promise<{ bookingId: string; paymentId: string; holdExpiresAt: string }> {
    const r = await http<{ booking_id: string; hold_expires_at: string }>('POST', `${urls.booking}/bookings`, reservation(albergue, n));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const p = await waitFor(
      async () => {
        const q = await http<{ payment_id: string }>('GET', `${urls.payment}/bookings/${r.body.booking_id}/payment?wait=8`);
        return q.status === 200 ? q.body : undefined;
      },
      { timeoutMs: 30_000, message: 'PaymentInitiated' },
    );
    return { bookingId: r.body.booking_id, paymentId: p.payment_id, holdExpiresAt: r.body.hold_expires_at };
  }

  before(async () => {
    await admin.connect();
    broker = await startMosquitto();
    ledger = new RedisDeliveryLedger({ url: REDIS, namespace: ledgerNamespace });
    observer = await observeEvents(broker.url);

    const env = {
      ...process.env,
      BOOKING_HOLD_MS: String(HOLD_MS),
      BOOKING_EXPIRY_SWEEP_MS: '600000', // the hold is decided when the payment arrives, not by the sweep
      PAYMENT_SIM_LATENCY_MS: '20',
      PAYMENT_SIM_CALLBACK_RETRY_MS: '100',
      PAYMENT_RECONCILE_AFTER_MS: '700',
      PAYMENT_RECONCILE_SWEEP_MS: '100',
      PAYMENT_REFUND_SWEEP_MS: '100',
    };
    const common = { env, ledger: ledgerBundle(ledger), relay: { pollIntervalMs: 100 } };
    for (const name of ['location', 'booking', 'payment'] as const) {
      const db = uniqueName(`money_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${db}`);
      databases.push(db);
    }
    const config = (db: string) => ({ port: 0, mqttUrl: broker.url, databaseUrl: dbUrl(db), redisUrl: REDIS });
    services.push(await createLocationService({ ...common, config: config(databases[0]!) }));
    services.push(await createBookingService({ ...common, config: config(databases[1]!) }));
    // Two payment instances on one database; each needs its own MQTT client ids (INSTANCE_ID).
    const previous = process.env.INSTANCE_ID;
    for (const instance of ['a', 'b']) {
      process.env.INSTANCE_ID = instance;
      const rt = await createPaymentService({
        ...common,
        env: { ...env, INSTANCE_ID: instance },
        config: config(databases[2]!),
        wrapDeliver: (deliver) => async (s) => {
          deliveries.set(s.payment_id, [...(deliveries.get(s.payment_id) ?? []), Date.now()]);
          if (failCallbacks) throw new Error('callback endpoint unreachable (test)');
          await deliver(s);
        },
      });
      payments.push(rt);
      services.push(rt);
    }
    if (previous === undefined) delete process.env.INSTANCE_ID;
    else process.env.INSTANCE_ID = previous;
    for (const rt of services) await rt.startConsumers();
    urls.location = await services[0]!.start();
    urls.booking = await services[1]!.start();
    urls.payment = await payments[0]!.start();
    urls.paymentB = await payments[1]!.start();
    paymentDb = new pg.Client({ connectionString: dbUrl(databases[2]!) });
    await paymentDb.connect();
  });

  after(async () => {
    await paymentDb?.end();
    for (const rt of services.reverse()) await rt.close();
    await observer?.close();
    await ledger?.close();
    await deleteNamespace(REDIS, ledgerNamespace); // what the run put in Redis
    await broker?.close();
    for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  });

  test('one charge fired at both instances at once, 20 times → one provider charge and one PaymentConfirmed each time', async (t) => {
    const albergue = await registerAlbergue(urls, 25);
    const statuses: number[] = [];
    for (let round = 0; round < 20; round++) {
      const { bookingId, paymentId } = await reserve(albergue, 1000 + round);
      const [a, b] = await Promise.all(
        [urls.payment, urls.paymentB].map((u) =>
          http<{ provider_reference?: string }>('POST', `${u}/payments/${paymentId}/charge`, { payment_method: '4242424242424242' }),
        ),
      );
      statuses.push(a!.status, b!.status);
      const accepted = [a!, b!].filter((r) => r.status === 202);
      assert.ok(accepted.length >= 1, `round ${round}: ${JSON.stringify([a, b])}`);
      assert.ok(
        [a!, b!].every((r) => r.status === 202 || r.status === 409),
        `round ${round}: ${JSON.stringify([a, b])}`,
      );
      assert.equal(new Set(accepted.map((r) => r.body.provider_reference)).size, 1, `round ${round}: the same charge`);
      await waitForBookingStatus(urls, bookingId, 'confirmed');
      const charges = await paymentDb.query('SELECT 1 FROM sim_card_network_charges WHERE payment_id = $1', [paymentId]);
      assert.equal(charges.rowCount, 1, `round ${round}: one provider charge`);
      const confirmed = await paymentDb.query(
        `SELECT 1 FROM outbox_events WHERE envelope->>'event_type' = 'PaymentConfirmed' AND envelope->>'aggregate_id' = $1`,
        [paymentId],
      );
      assert.equal(confirmed.rowCount, 1, `round ${round}: one PaymentConfirmed`);
    }
    assert.equal(statuses.length, 40);
    t.diagnostic(
      `answers: ${statuses.filter((s) => s === 202).length} × 202, ${statuses.filter((s) => s === 409).length} × 409 (charge_in_progress)`,
    );
  });

  test('callback delivery keeps failing → deliveries back off (never 0 ms apart) and the recovery sweep completes the payment', async () => {
    const albergue = await registerAlbergue(urls, 2);
    const { bookingId, paymentId } = await reserve(albergue, 2000);
    failCallbacks = true;
    try {
      const r = await http('POST', `${urls.paymentB}/payments/${paymentId}/charge`, { payment_method: '4242424242424242' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await waitForBookingStatus(urls, bookingId, 'confirmed');
      await waitFor(() => (deliveries.get(paymentId)?.length ?? 0) >= 3, { timeoutMs: 10_000, message: 'three callback deliveries' });
    } finally {
      failCallbacks = false;
    }
    const times = deliveries.get(paymentId)!;
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(
      gaps.every((g) => g >= 70),
      `gaps between deliveries: ${gaps.join(', ')} ms`,
    );
    assert.ok(gaps[1]! > gaps[0]!, `backing off: ${gaps.join(', ')} ms`);
    const attempt = await paymentDb.query<{ status: string }>('SELECT status FROM charge_attempts WHERE payment_id = $1', [paymentId]);
    assert.deepEqual(attempt.rows, [{ status: 'succeeded' }]);
    // Counted where an operator looks: failed deliveries and the sweep's settlements (one of the two instances did it).
    const metrics = await Promise.all([urls.payment, urls.paymentB].map(async (u) => (await fetch(`${u}/metrics`)).text()));
    // The value of a series (`name`, with `label` among its labels when given); default labels vary.
    const value = (text: string, name: string, label = '') =>
      Number(
        text
          .split('\n')
          .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label))
          ?.split(' ')
          .at(-1) ?? 0,
      );
    assert.ok(value(metrics[1]!, 'payment_callback_delivery_failures_total') >= 2, metrics[1]);
    assert.ok(
      metrics.some((m) => value(m, 'payment_charge_checks_total', 'result="settled"') >= 1),
      'a sweep settled it',
    );
    assert.ok(metrics.every((m) => m.includes('payment_refunds_failed') && value(m, 'payment_refunds_failed') === 0));
  });

  test('a payment confirmed after the hold ended → the booking expires instead (ReservationExpired), payment refunds (PaymentRefunded), the booking stays expired', async () => {
    const albergue = await registerAlbergue(urls, 2);
    const { bookingId, paymentId, holdExpiresAt } = await reserve(albergue, 3000);
    await waitFor(() => Date.now() > Date.parse(holdExpiresAt) + 100, {
      timeoutMs: HOLD_MS + 5000,
      intervalMs: 100,
      message: 'the hold to end',
    });
    assert.equal(
      (await http<{ status: string }>('GET', `${urls.booking}/bookings/${bookingId}`)).body.status,
      'reserved',
      'the expiry sweep has not run',
    );
    const r = await http('POST', `${urls.payment}/payments/${paymentId}/charge`, { payment_method: '4242424242424242' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const refunded = await waitFor(() => find('PaymentRefunded', bookingId)[0], { timeoutMs: 30_000, message: 'PaymentRefunded on MQTT' });
    const confirmed = find('PaymentConfirmed', bookingId)[0];
    const expired = find('ReservationExpired', bookingId)[0];
    assert.ok(confirmed && expired);
    assert.equal(expired.causation_id, confirmed.event_id, 'booking expired it when the late payment arrived');
    assert.deepEqual(refunded.payload, {
      ...(refunded.payload as object),
      payment_id: paymentId,
      booking_id: bookingId,
      amount: 2400,
      currency: 'EUR',
      reason: 'booking_expired',
      provider_reference: (confirmed.payload as { provider_reference: string }).provider_reference,
    });
    assert.equal(refunded.correlation_id, confirmed.correlation_id, 'one flow');
    assert.equal(find('BookingConfirmed', bookingId).length, 0);
    assert.equal((await http<{ status: string }>('GET', `${urls.booking}/bookings/${bookingId}`)).body.status, 'expired');
    assert.equal((await http<{ status: string }>('GET', `${urls.payment}/payments/${paymentId}`)).body.status, 'refunded');
    const charge = await paymentDb.query<{ refund_reference: string | null }>(
      'SELECT refund_reference FROM sim_card_network_charges WHERE payment_id = $1',
      [paymentId],
    );
    assert.ok(charge.rows[0]?.refund_reference, 'the network refunded the charge');
    assert.deepEqual((await http<{ refunds: unknown[] }>('GET', `${urls.payment}/refunds?status=failed`)).body.refunds, []);
  });
});
