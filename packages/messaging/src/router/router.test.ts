// Router without a transport: timeout middleware, middleware order, emit without a sink, declarations.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingReserved, PaymentInitiated } from '@albergue/events';
import { createMetricsRegistry } from '@albergue/platform';
import { waitFor } from '@albergue/platform/testing';
import { declareService } from '../declarations.js';
import { MemoryDeliveryLedger } from '../ledger/memory-ledger.js';
import { createConsumer } from '../runtime/consumer.js';
import { bookingReserved, metricValue } from '../testing/index.js';
import type { Middleware } from './middleware.js';
import { metrics } from './middleware.js';
import { Router } from './router.js';

const topic = BookingReserved.topic;
const policy = {
  maxAttempts: 1,
  visibilityTimeoutMs: 5_000,
  backoff: { initialMs: 10, maxMs: 10, multiplier: 1, jitter: 0 },
  dedupWindowMs: 60_000,
};

async function leaseOne(ledger: MemoryDeliveryLedger, sub: string) {
  const e = bookingReserved('bk-r');
  await ledger.record(sub, [{ topic, eventId: e.event_id, body: JSON.stringify(e) }]);
  const [d] = await ledger.lease(sub, 1);
  assert.ok(d);
  return d;
}

test('timeout middleware fails a handler over its budget and aborts its signal; the failure is dead-lettered with the reason', async () => {
  const ledger = new MemoryDeliveryLedger();
  const registry = createMetricsRegistry('t');
  const router = new Router({ service: 't', subscriber: 's', ledger, metrics: registry, policy });
  router.use(metrics(registry));
  let aborted = false;
  router.on(
    BookingReserved,
    'slowOnBookingReserved',
    async (ctx) => {
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          resolve();
        }),
      );
    },
    { timeoutMs: 50 },
  );
  await router.start();
  const outcome = await router.dispatch(await leaseOne(ledger, 's'));
  assert.equal(outcome, 'dead-lettered');
  assert.ok(aborted);
  const [dead] = await ledger.deadLetters.list(topic);
  assert.match(dead!.errors[0]!.message, /exceeded its 50 ms budget/);
  assert.equal(await metricValue(registry, 'event_handler_duration_seconds_count', { outcome: 'failure' }), 1);
  assert.equal(await metricValue(registry, 'dlq_total'), 1);
});

test('middleware runs outermost first; a handler that emits without a sink fails rather than dropping events', async () => {
  const ledger = new MemoryDeliveryLedger();
  const order: string[] = [];
  const tag =
    (name: string): Middleware =>
    (next) =>
    async (ctx) => {
      order.push(`${name}>`);
      await next(ctx);
      order.push(`<${name}`);
    };
  const router = new Router({ service: 't', subscriber: 's', ledger, policy });
  router.use(tag('a'), tag('b'));
  router.on(BookingReserved, 'emitOnBookingReserved', (ctx) => {
    order.push('handler');
    ctx.emit(PaymentInitiated, {
      payment_id: 'p',
      booking_id: 'b',
      amount: { amount_minor: 1, currency: 'EUR' },
      provider: 'x',
      initiated_at: new Date().toISOString(),
    });
  });
  await router.start();
  assert.equal(await router.dispatch(await leaseOne(ledger, 's')), 'dead-lettered');
  assert.deepEqual(order, ['a>', 'b>', 'handler', '<b', '<a']);
  const [dead] = await ledger.deadLetters.list(topic);
  assert.match(dead!.errors[0]!.message, /emitted 1 event\(s\) but the consumer has no onEmitted sink/);
});

test('createConsumer refuses an undeclared handler and refuses to start with a declared one missing', async () => {
  const ledger = new MemoryDeliveryLedger();
  const consumer = createConsumer({
    declaration: declareService({
      service: 'payment',
      context: 'payment',
      publishes: [],
      subscribes: [{ event: BookingReserved, handler: 'initiatePaymentOnBookingReserved' }],
    }),
    mqtt: { url: 'mqtt://127.0.0.1:1' },
    ledger,
    deadLetters: ledger.deadLetters,
  });
  assert.throws(() => consumer.on(BookingReserved, 'somethingElse', () => undefined), /does not declare handler somethingElse/);
  await assert.rejects(consumer.start(), /declared handler\(s\) without implementation: initiatePaymentOnBookingReserved/);
  await waitFor(() => true);
  await consumer.close();
});
