// Payment's HTTP routes on real Postgres (127.0.0.1:5432), the simulated card network settling
// through the signed callback route, and the operator's refund routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { EventEnvelope } from '@albergue/events';
import { BookingCancelled, BookingReserved, newEnvelope, newEventId, withCorrelation } from '@albergue/events';
import { migrate, OUTBOX_MIGRATIONS } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { openTestPostgres } from '@albergue/outbox/test-databases';
import { closePaymentOnBookingCancelled } from '../../application/close-payment.js';
import { initiatePaymentOnBookingReserved } from '../../application/initiate-payment.js';
import { PaymentWaiters } from '../../application/payment-waiters.js';
import type { PaymentProvider } from '../../application/ports.js';
import { refundPendingPayments } from '../../application/refund-payment.js';
import { PAYMENT_MIGRATIONS } from '../postgres/migrations.js';
import { PgPaymentQueries } from '../postgres/pg-payment-queries.js';
import { PgPaymentRepository } from '../postgres/pg-payment-repository.js';
import { signCallback, SIMULATED_CARD_NETWORK_MIGRATIONS, SimulatedCardNetwork } from '../provider/simulated-card-network.js';
import { refundRoutes } from './refund-routes.js';
import { expectProblem } from '@albergue/platform/testing';
import { paymentRoutes } from './routes.js';

const NOW_MS = Date.parse('2025-05-10T09:00:00Z');
const clock = { now: () => new Date(NOW_MS) };
const secret = 'test-secret';
const app = Fastify();
let timers: (() => void)[] = [];
let handle: TestDatabase;
let repo: PgPaymentRepository;
let network: SimulatedCardNetwork;
let refundsBroken = true;
let chargesBroken = false;
const reservedOf = new Map<string, EventEnvelope>();

before(async () => {
  handle = await openTestPostgres('payment_routes');
  await migrate(handle.db, [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS, ...SIMULATED_CARD_NETWORK_MIGRATIONS]);
  repo = new PgPaymentRepository(handle.db);
  network = new SimulatedCardNetwork({
    db: handle.db,
    now: clock.now,
    latencyMs: 0,
    // The webhook goes through the HTTP route, signed like the real deliverer does.
    deliver: async (s) => {
      const body = JSON.stringify(s);
      const r = await app.inject({
        method: 'POST',
        url: '/payments/callback',
        headers: { 'content-type': 'application/json', 'x-albergue-signature': signCallback(body, secret) },
        payload: body,
      });
      if (r.statusCode !== 200) throw new Error(r.body);
    },
    schedule: (fn) => {
      timers.push(fn);
      return () => undefined;
    },
  });
  const provider: PaymentProvider = {
    name: network.name,
    charge: (r) => (chargesBroken ? Promise.reject(new Error('network unreachable')) : network.charge(r)),
    lookup: (k) => network.lookup(k),
    cancel: (r) => network.cancel(r),
    refund: (r) => (refundsBroken ? Promise.reject(new Error('provider down')) : network.refund(r)),
  };
  const queries = new PgPaymentQueries(handle.db);
  await app.register(
    paymentRoutes({
      repo,
      queries,
      clock,
      provider,
      ids: newEventId,
      callbackSecret: secret,
      waiters: new PaymentWaiters(10),
      waitRecheckMs: 1000,
    }),
  );
  await app.register(refundRoutes({ repo, clock, provider, policy: { maxAttempts: 1 } }));
  for (const booking_id of ['b-1', 'b-2', 'b-3']) {
    const reserved = newEnvelope(BookingReserved, {
      booking_id,
      albergue_id: 'alb-1',
      guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
      check_in: '2025-06-01',
      check_out: '2025-06-02',
      beds: 1,
      total: { amount_minor: 1000, currency: 'EUR' },
      hold_expires_at: '2025-05-10T09:15:00.000Z',
    });
    reservedOf.set(booking_id, reserved);
    await repo.transaction((tx) =>
      initiatePaymentOnBookingReserved({ clock, ids: () => `pay-${booking_id}`, provider: network }, tx, reserved),
    );
  }
});
after(async () => {
  network?.close();
  await app.close();
  await handle?.dispose();
});

async function settleAll(): Promise<void> {
  const due = timers;
  timers = [];
  for (const fn of due) fn();
  await network.drain();
}

async function outboxTypes(): Promise<string[]> {
  const { rows } = await handle.db.query<{ event_type: string }>(
    "SELECT envelope->>'event_type' AS event_type FROM outbox_events ORDER BY id",
  );
  return rows.map((r) => r.event_type);
}

describe('payment HTTP API', () => {
  test('GET the payment of a booking, with where to pay', async () => {
    const r = await app.inject({ method: 'GET', url: '/bookings/b-1/payment' });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json<{ status: string; pay_url: string }>().pay_url, '/payments/pay-b-1/charge');
    assert.equal((await app.inject({ method: 'GET', url: '/payments/nope' })).statusCode, 404);
  });

  test('pay with 4242… → 202, the signed callback confirms it; a replayed callback changes nothing', async () => {
    const r = await app.inject({ method: 'POST', url: '/payments/pay-b-1/charge', payload: { payment_method: '4242 4242 4242 4242' } });
    assert.equal(r.statusCode, 202, r.body);
    assert.match(r.json<{ attempt_id: string }>().attempt_id, /^[0-9a-f-]{36}$/);
    await settleAll();
    const p = await app.inject({ method: 'GET', url: '/payments/pay-b-1' });
    assert.equal(p.json<{ status: string }>().status, 'confirmed');
    assert.deepEqual(await outboxTypes(), ['PaymentInitiated', 'PaymentInitiated', 'PaymentInitiated', 'PaymentConfirmed']);
    const settlement = JSON.stringify({
      payment_id: 'pay-b-1',
      provider_reference: r.json<{ provider_reference: string }>().provider_reference,
      outcome: { status: 'succeeded' },
    });
    const again = await app.inject({
      method: 'POST',
      url: '/payments/callback',
      headers: { 'content-type': 'application/json', 'x-albergue-signature': signCallback(settlement, secret) },
      payload: settlement,
    });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ events: number }>().events, 0);
    assert.equal(
      (await app.inject({ method: 'POST', url: '/payments/pay-b-1/charge', payload: { payment_method: '4242424242424242' } })).statusCode,
      409,
    );
  });

  test('a callback with a wrong or missing signature → 401', async () => {
    const body = JSON.stringify({ payment_id: 'pay-b-2', provider_reference: 'x', outcome: { status: 'succeeded' } });
    expectProblem(
      await app.inject({ method: 'POST', url: '/payments/callback', headers: { 'content-type': 'application/json' }, payload: body }),
      401,
      'invalid_signature',
    );
    assert.equal(
      (
        await app.inject({
          method: 'POST',
          url: '/payments/callback',
          headers: { 'content-type': 'application/json', 'x-albergue-signature': signCallback(body, 'other') },
          payload: body,
        })
      ).statusCode,
      401,
    );
  });

  test('bad input → 400 with the problems; malformed JSON → 400; bad card number → 422', async () => {
    const r = await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', payload: { card: '4242' } });
    assert.deepEqual(
      expectProblem(r, 400, 'invalid_request')
        .errors?.map((e) => e.path)
        .sort(),
      ['/body/card', '/body/payment_method'],
    );
    const bad = await app.inject({
      method: 'POST',
      url: '/payments/pay-b-2/charge',
      headers: { 'content-type': 'application/json' },
      payload: '{"payment_method":',
    });
    expectProblem(bad, 400, 'invalid_json');
    expectProblem(
      await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', headers: { 'content-type': 'application/json' }, payload: '' }),
      400,
      'empty_body',
    );
    const card = await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', payload: { payment_method: '1234' } });
    assert.deepEqual(
      expectProblem(card, 422, 'payment_method_rejected').errors?.map((e) => e.path),
      ['/body/payment_method'],
    );
    expectProblem(
      await app.inject({ method: 'POST', url: '/payments/nope/charge', payload: { payment_method: '4242424242424242' } }),
      404,
      'payment_not_found',
    );
    expectProblem(
      await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', payload: { payment_method: 4242424242424242 } }),
      400,
      'invalid_request',
    );
  });

  test('a refund that ran out of retries is listed at GET /refunds?status=failed and retried by POST /refunds/:id/retry', async () => {
    // b-1 was paid above; its guest cancels → refund requested; the provider is down.
    const reserved = reservedOf.get('b-1')!;
    const cancelled = newEnvelope(
      BookingCancelled,
      { booking_id: 'b-1', albergue_id: 'alb-1', reason: 'guest_request', cancelled_at: '2025-05-10T09:10:00.000Z' },
      withCorrelation(reserved),
    );
    await repo.transaction((tx) => closePaymentOnBookingCancelled({ clock, provider: network }, tx, cancelled));
    const provider = { refund: () => Promise.reject(new Error('provider down')) };
    assert.equal(await refundPendingPayments({ repo, clock, provider, policy: { maxAttempts: 1 } }), 0);
    const listed = await app.inject({ method: 'GET', url: '/refunds?status=failed' });
    assert.equal(listed.statusCode, 200, listed.body);
    const [failed] = listed.json<{
      refunds: { refund_id: string; payment_id: string; status: string; attempts: number; last_error: string; reason: string }[];
    }>().refunds;
    assert.deepEqual(
      [failed?.payment_id, failed?.status, failed?.attempts, failed?.last_error, failed?.reason],
      ['pay-b-1', 'failed', 1, 'provider down', 'booking_cancelled'],
    );
    assert.equal((await app.inject({ method: 'GET', url: '/refunds?status=lost' })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/refunds' })).statusCode, 400);
    for (const limit of ['0', '501', 'x', '-1', '1.5'])
      assert.equal((await app.inject({ method: 'GET', url: `/refunds?status=failed&limit=${limit}` })).statusCode, 400, limit);
    assert.equal((await app.inject({ method: 'GET', url: '/refunds?status=failed&limit=500' })).statusCode, 200);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/refunds?status=failed&limit=1' })).json<{ refunds: unknown[] }>().refunds.length,
      1,
    );
    // An id past the bound: refused before anything runs (Fastify answers 414 past its path-parameter limit).
    assert.ok([400, 414].includes((await app.inject({ method: 'POST', url: `/refunds/${'x'.repeat(129)}/retry` })).statusCode));
    refundsBroken = false;
    const retried = await app.inject({ method: 'POST', url: `/refunds/${failed!.refund_id}/retry` });
    assert.equal(retried.statusCode, 200, retried.body);
    assert.equal(retried.json<{ status: string }>().status, 'succeeded');
    assert.equal((await app.inject({ method: 'POST', url: `/refunds/${failed!.refund_id}/retry` })).statusCode, 409);
    assert.equal((await app.inject({ method: 'POST', url: '/refunds/no-such-refund/retry' })).statusCode, 404);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/refunds?status=failed' })).json<{ refunds: unknown[] }>().refunds, []);
    assert.equal((await outboxTypes()).at(-1), 'PaymentRefunded');
    assert.equal((await app.inject({ method: 'GET', url: '/payments/pay-b-1' })).json<{ status: string }>().status, 'refunded');
  });

  test('the provider does not answer → 503 provider_unavailable; paying again meanwhile → 409 charge_in_progress (never a second charge)', async () => {
    chargesBroken = true;
    try {
      const r = await app.inject({ method: 'POST', url: '/payments/pay-b-3/charge', payload: { payment_method: '4242424242424242' } });
      assert.equal(r.statusCode, 503, r.body);
      assert.match(r.body, /provider_unavailable/);
    } finally {
      chargesBroken = false;
    }
    const again = await app.inject({ method: 'POST', url: '/payments/pay-b-3/charge', payload: { payment_method: '4242424242424242' } });
    assert.equal(again.statusCode, 409, again.body);
    assert.match(again.body, /charge_in_progress/);
    assert.deepEqual(await network.chargesOf('pay-b-3'), []);
  });
});
