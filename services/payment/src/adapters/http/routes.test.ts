import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { BookingReserved, newEnvelope } from '@albergue/events';
import { initiatePaymentOnBookingReserved } from '../../application/initiate-payment';
import { MemoryPaymentStore } from '../memory/memory-payment-store';
import { signCallback, SimulatedCardNetwork } from '../provider/simulated-card-network';
import { expectProblem } from '@albergue/platform/testing';
import { paymentRoutes } from './routes';

const store = new MemoryPaymentStore();
const clock = { now: () => new Date('2025-05-10T09:00:00Z') };
const secret = 'test-secret';
const app = Fastify();
let timers: (() => void)[] = [];
const network = new SimulatedCardNetwork({
  // The webhook goes through the HTTP route, signed like the real deliverer does.
  deliver: async (s) => {
    const body = JSON.stringify(s);
    const r = await app.inject({ method: 'POST', url: '/payments/callback', headers: { 'content-type': 'application/json', 'x-albergue-signature': signCallback(body, secret) }, payload: body });
    if (r.statusCode !== 200) throw new Error(r.body);
  },
  schedule: (fn) => { timers.push(fn); return () => undefined; },
});

before(async () => {
  await app.register(paymentRoutes({ repo: store, queries: store, clock, provider: network, callbackSecret: secret }));
  for (const booking_id of ['b-1', 'b-2']) {
    const reserved = newEnvelope(BookingReserved, {
      booking_id, albergue_id: 'alb-1', guest: { guest_id: 'g-1', name: 'Ana', email: 'ana@example.org', locale: 'es' },
      check_in: '2025-06-01', check_out: '2025-06-02', beds: 1, total: { amount_minor: 1000, currency: 'EUR' }, hold_expires_at: '2025-05-10T09:15:00.000Z',
    });
    await store.transaction((tx) => initiatePaymentOnBookingReserved({ clock, ids: () => `pay-${booking_id}`, provider: network }, tx, reserved));
  }
});
after(() => app.close());

async function settleAll(): Promise<void> {
  const due = timers;
  timers = [];
  for (const fn of due) fn();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
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
    await settleAll();
    const p = await app.inject({ method: 'GET', url: '/payments/pay-b-1' });
    assert.equal(p.json<{ status: string }>().status, 'confirmed');
    assert.deepEqual(store.outbox.map((e) => e.event_type), ['PaymentInitiated', 'PaymentInitiated', 'PaymentConfirmed']);
    const settlement = JSON.stringify({ payment_id: 'pay-b-1', provider_reference: r.json<{ provider_reference: string }>().provider_reference, outcome: { status: 'succeeded' } });
    const again = await app.inject({ method: 'POST', url: '/payments/callback', headers: { 'content-type': 'application/json', 'x-albergue-signature': signCallback(settlement, secret) }, payload: settlement });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ events: number }>().events, 0);
    assert.equal((await app.inject({ method: 'POST', url: '/payments/pay-b-1/charge', payload: { payment_method: '4242424242424242' } })).statusCode, 409);
  });

  test('a callback with a wrong or missing signature → 401', async () => {
    const body = JSON.stringify({ payment_id: 'pay-b-2', provider_reference: 'x', outcome: { status: 'succeeded' } });
    expectProblem(await app.inject({ method: 'POST', url: '/payments/callback', headers: { 'content-type': 'application/json' }, payload: body }), 401, 'invalid_signature');
    assert.equal((await app.inject({ method: 'POST', url: '/payments/callback', headers: { 'content-type': 'application/json', 'x-albergue-signature': signCallback(body, 'other') }, payload: body })).statusCode, 401);
  });

  test('bad input → 400 with the problems; malformed JSON → 400; bad card number → 422', async () => {
    const r = await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', payload: { card: '4242' } });
    assert.deepEqual(expectProblem(r, 400, 'invalid_request').errors?.map((e) => e.path).sort(), ['/body/card', '/body/payment_method']);
    const bad = await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', headers: { 'content-type': 'application/json' }, payload: '{"payment_method":' });
    expectProblem(bad, 400, 'invalid_json');
    expectProblem(await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', headers: { 'content-type': 'application/json' }, payload: '' }), 400, 'empty_body');
    const card = await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', payload: { payment_method: '1234' } });
    assert.deepEqual(expectProblem(card, 422, 'payment_method_rejected').errors?.map((e) => e.path), ['/body/payment_method']);
    expectProblem(await app.inject({ method: 'POST', url: '/payments/nope/charge', payload: { payment_method: '4242424242424242' } }), 404, 'payment_not_found');
    expectProblem(await app.inject({ method: 'POST', url: '/payments/pay-b-2/charge', payload: { payment_method: 4242424242424242 } }), 400, 'invalid_request');
  });
});
