// `GET /bookings/:booking_id/payment?wait=` on real Postgres: the long-poll a guest uses after
// reserving instead of polling. Two "instances" share the database: this one is woken by its own
// commits; the other only re-reads at its interval.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { BookingReserved, newEnvelope, newEventId } from '@albergue/events';
import { migrate, OUTBOX_MIGRATIONS } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { openTestPostgres } from '@albergue/outbox/test-databases';
import { expectProblem, waitFor } from '@albergue/platform/testing';
import { initiatePaymentOnBookingReserved } from '../../application/initiate-payment.js';
import { PaymentWaiters } from '../../application/payment-waiters.js';
import { PAYMENT_MIGRATIONS } from '../postgres/migrations.js';
import { PgPaymentQueries } from '../postgres/pg-payment-queries.js';
import { PgPaymentRepository } from '../postgres/pg-payment-repository.js';
import { paymentRoutes } from './routes.js';

const clock = { now: () => new Date() };
const provider = { name: 'test-network', charge: () => Promise.reject(new Error('not used')) };
let handle: TestDatabase;
let repo: PgPaymentRepository;
let waiters: PaymentWaiters;
/** This instance: woken by its own commits only (its re-read interval is longer than any test). */
let app: FastifyInstance;
/** Another instance on the same database: never woken, re-reads every 50 ms. */
let other: FastifyInstance;
let n = 0;

async function build(w: PaymentWaiters, waitRecheckMs: number, r: PgPaymentRepository): Promise<FastifyInstance> {
  const a = Fastify();
  const queries = new PgPaymentQueries(handle.db);
  await a.register(paymentRoutes({ repo: r, queries, clock, provider, ids: newEventId, waiters: w, waitRecheckMs }));
  return a;
}

/** Initiates the payment of a new booking id (as the BookingReserved handler does) through `r`. */
async function initiate(bookingId: string, r: PgPaymentRepository = repo): Promise<void> {
  const reserved = newEnvelope(BookingReserved, {
    booking_id: bookingId,
    albergue_id: 'alb-1',
    guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
    check_in: '2025-06-01',
    check_out: '2025-06-02',
    beds: 1,
    total: { amount_minor: 1000, currency: 'EUR' },
    hold_expires_at: '2025-05-10T09:15:00.000Z',
  });
  await r.transaction((tx) => initiatePaymentOnBookingReserved({ clock, ids: newEventId, provider }, tx, reserved));
}

const bookingId = () => `b-wait-${++n}`;

before(async () => {
  handle = await openTestPostgres('payment_long_poll');
  await migrate(handle.db, [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS]);
  waiters = new PaymentWaiters(2);
  repo = new PgPaymentRepository(handle.db, undefined, (b) => waiters.notify(b));
  app = await build(waiters, 60_000, repo);
  other = await build(new PaymentWaiters(2), 50, new PgPaymentRepository(handle.db));
});
after(async () => {
  waiters?.close();
  await app?.close();
  await other?.close();
  await handle?.dispose();
});

describe('long-poll of a booking payment (?wait=)', () => {
  test('a payment that exists answers at once', async () => {
    const b = bookingId();
    await initiate(b);
    const r = await app.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=20` });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ booking_id: string }>().booking_id, b);
    assert.equal(waiters.size, 0);
  });

  test('a payment initiated while the request waits answers as soon as it commits', async () => {
    const b = bookingId();
    const pending = app.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=20` });
    // Only the commit can answer this within the wait: the instance re-reads every 60 s.
    await waitFor(() => waiters.size === 1, { timeoutMs: 5_000, intervalMs: 1, message: 'the request to wait' });
    await initiate(b);
    const r = await pending;
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ booking_id: string; status: string }>().status, 'initiated');
    assert.equal(waiters.size, 0);
  });

  test('another instance, never woken, finds it by re-reading', async () => {
    const b = bookingId();
    const pending = other.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=20` });
    await initiate(b, new PgPaymentRepository(handle.db));
    const r = await pending;
    assert.equal(r.statusCode, 200, r.body);
  });

  test('nothing within the wait → 404 problem; without wait → 404 at once', async () => {
    const b = bookingId();
    const started = Date.now();
    const r = await app.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=1` });
    expectProblem(r, 404, 'payment_not_found');
    assert.ok(Date.now() - started >= 990, 'answered before the wait was over');
    assert.match(r.json<{ detail: string }>().detail, /after waiting 1 s/);
    expectProblem(await app.inject({ method: 'GET', url: `/bookings/${b}/payment` }), 404, 'payment_not_found');
    expectProblem(await app.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=0` }), 404, 'payment_not_found');
    assert.equal(waiters.size, 0);
  });

  test('waiters are bounded: beyond the limit 503 with Retry-After, but a payment that exists is still served', async () => {
    const a = bookingId();
    const b = bookingId();
    const held = [a, b].map((id) => app.inject({ method: 'GET', url: `/bookings/${id}/payment?wait=20` }));
    await waitFor(() => waiters.size === 2, { timeoutMs: 5_000, intervalMs: 1, message: 'both requests to wait' });
    const refused = await app.inject({ method: 'GET', url: `/bookings/${bookingId()}/payment?wait=5` });
    expectProblem(refused, 503, 'too_many_waiting');
    assert.equal(refused.headers['retry-after'], '1');
    const exists = bookingId();
    await initiate(exists, new PgPaymentRepository(handle.db)); // written without waking anyone
    assert.equal((await app.inject({ method: 'GET', url: `/bookings/${exists}/payment?wait=5` })).statusCode, 200);
    // The held requests end when their payments commit.
    await initiate(a);
    await initiate(b);
    assert.deepEqual(
      (await Promise.all(held)).map((r) => r.statusCode),
      [200, 200],
    );
    assert.equal(waiters.size, 0);
  });

  test('bad wait values → 400 problem pointing at the query', async () => {
    const b = bookingId();
    for (const bad of ['21', '-1', '1.5', 'abc', '', '%20', '007', '1e1', '30']) {
      const r = await app.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=${bad}` });
      const p = expectProblem(r, 400);
      assert.ok(
        p.errors?.some((e) => e.path.startsWith('/query')),
        `${bad}: ${r.body}`,
      );
    }
    expectProblem(await app.inject({ method: 'GET', url: `/bookings/${b}/payment?wait=1&wait=2` }), 400);
    expectProblem(await app.inject({ method: 'GET', url: `/bookings/${b}/payment?other=1` }), 400);
    assert.equal(waiters.size, 0);
  });
});
