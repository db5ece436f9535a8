// Delivery scenarios of ARCHITECTURE §3 end to end: MQTT broker (Aedes in process, and a Mosquitto
// started with the project config) → MqttSubscriber → ledger → Router → handler.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { BookingReserved, newEventId, PaymentInitiated, toMqttTopic } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import { createMetricsRegistry } from '@albergue/platform';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { connectMqtt, endMqtt } from '../mqtt/connect.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { publishAll } from '../ports/publisher.js';
import { toOutgoing } from '../mqtt/outgoing.js';
import { declareService } from '../declarations.js';
import type { SubscriptionPolicy } from '../ports/ledger.js';
import type { Handler } from '../router/router.js';
import { bookingReserved, brokerKinds, EffectCounter, metricValue, startBroker } from '../testing/index.js';
import type { LedgerSet, TestBroker, TestLedger } from '../testing/index.js';
import { ledgerKinds, startTestLedger } from '../testing/ledgers.js';
import { createConsumer } from './consumer.js';
import type { Consumer } from './consumer.js';

const topic = BookingReserved.topic;

/** Messages waiting in the ledger for `sub`, all topics. */
async function waiting(l: LedgerSet, sub: string): Promise<number> {
  return Object.values(await l.ledger.depth(sub)).reduce((a, b) => a + b, 0);
}

const fast = (over: Partial<SubscriptionPolicy> = {}): Partial<SubscriptionPolicy> => ({
  maxAttempts: 5,
  visibilityTimeoutMs: 3_000,
  backoff: { initialMs: 60, maxMs: 500, multiplier: 2, jitter: 0 },
  breaker: { failureThreshold: 1_000, windowMs: 10_000, openMs: 10_000 },
  dedupWindowMs: 60_000,
  ...over,
});

for (const brokerKind of brokerKinds()) {
  for (const ledgerKind of ledgerKinds()) {
    describe(`scenarios on ${brokerKind} with the ${ledgerKind} ledger`, () => {
      let broker: TestBroker;
      let publisher: MqttPublisher;
      const open: { close(): Promise<void> }[] = [];

      before(async () => {
        broker = await startBroker(brokerKind);
        publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
      });
      after(async () => {
        await publisher.close();
        await broker.close();
      });

      /** A consumer of BookingReserved for `subscriber` on `stores`; closed by `closeAll`. */
      async function consumer(
        subscriber: string,
        stores: LedgerSet,
        handler: Handler<typeof BookingReserved>,
        policy = fast(),
        extra: { instanceId?: string; metrics?: ReturnType<typeof createMetricsRegistry> } = {},
      ): Promise<Consumer> {
        const declaration = declareService({
          service: 'payment',
          context: 'payment',
          publishes: [PaymentInitiated],
          subscribes: [{ event: BookingReserved, handler: 'testOnBookingReserved', subscriber, policy }],
        });
        const c = createConsumer({
          declaration,
          subscriber,
          instanceId: extra.instanceId ?? '0',
          mqtt: { url: broker.url },
          ...stores,
          publisher,
          ...(extra.metrics ? { metrics: extra.metrics } : {}),
          worker: { concurrency: 8, maxIdleMs: 20 },
        });
        c.on(BookingReserved, 'testOnBookingReserved', handler);
        await c.start();
        open.push(c);
        return c;
      }

      async function closeAll(...ledgers: TestLedger[]): Promise<void> {
        for (const c of open.splice(0)) await c.close();
        for (const l of ledgers) await l.close();
      }

      test('the same event_id delivered 3 times → effect once, events_duplicate_total = 2', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const metrics = createMetricsRegistry('payment');
        const effects = new EffectCounter();
        const sub = uniqueName('dup');
        try {
          await consumer(sub, ledger, (ctx) => void effects.add(ctx.event.event_id), fast(), { metrics });
          const e = bookingReserved('bk-dup');
          for (let i = 0; i < 3; i++) await publishAll(publisher, [toOutgoing(e)]);
          await waitFor(async () => (await metricValue(metrics, 'events_duplicate_total', { subscriber: sub })) === 2, {
            message: '2 duplicates counted',
          });
          await waitFor(async () => ledger.ledger.isProcessed(sub, topic, e.event_id), { message: 'processed' });
          assert.equal(effects.count(e.event_id), 1);
          assert.equal(await metricValue(metrics, 'events_processed_total', { subscriber: sub, topic }), 1);
        } finally {
          await closeAll(ledger);
        }
      });

      test('fails twice then succeeds → processed on attempt 3, after growing backoff', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const metrics = createMetricsRegistry('payment');
        const seen: { attempt: number; at: number }[] = [];
        const sub = uniqueName('retry');
        try {
          await consumer(
            sub,
            ledger,
            (ctx) => {
              seen.push({ attempt: ctx.attempt, at: Date.now() });
              if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
            },
            fast(),
            { metrics },
          );
          const e = bookingReserved('bk-retry');
          await publishAll(publisher, [toOutgoing(e)]);
          await waitFor(async () => ledger.ledger.isProcessed(sub, topic, e.event_id), { message: 'processed after retries' });
          assert.deepEqual(
            seen.map((s) => s.attempt),
            [1, 2, 3],
          );
          // Backoff 60 ms then 120 ms (jitter 0); allow for timer slack only upwards.
          assert.ok(seen[1]!.at - seen[0]!.at >= 55, `first backoff ${seen[1]!.at - seen[0]!.at} ms`);
          assert.ok(seen[2]!.at - seen[1]!.at >= 110, `second backoff ${seen[2]!.at - seen[1]!.at} ms`);
          assert.equal(await metricValue(metrics, 'events_failed_total', { subscriber: sub }), 2);
          assert.equal(await metricValue(metrics, 'events_processed_total', { subscriber: sub }), 1);
          assert.deepEqual(await ledger.deadLetters.topics(), []);
        } finally {
          await closeAll(ledger);
        }
      });

      test('always fails → one DLQ entry holding every error, dlq_total = 1', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const metrics = createMetricsRegistry('payment');
        const sub = uniqueName('dead');
        let calls = 0;
        try {
          await consumer(
            sub,
            ledger,
            (ctx) => {
              calls++;
              throw new Error(`always ${ctx.attempt}`);
            },
            fast({ maxAttempts: 3, backoff: { initialMs: 20, maxMs: 100, multiplier: 2, jitter: 0 } }),
            { metrics },
          );
          const e = bookingReserved('bk-dead');
          await publishAll(publisher, [toOutgoing(e)]);
          const entry = await waitFor(async () => (await ledger.deadLetters.list(topic)).find((d) => d.subscriber === sub), {
            message: 'DLQ entry',
          });
          assert.equal(entry.id, e.event_id);
          assert.equal(entry.reason, 'max_attempts');
          assert.equal(entry.attempts, 3);
          assert.deepEqual(
            entry.errors.map((x) => x.message),
            ['always 1', 'always 2', 'always 3'],
          );
          assert.equal(JSON.parse(entry.body).event_id, e.event_id);
          assert.equal(calls, 3);
          assert.equal(await metricValue(metrics, 'dlq_total', { subscriber: sub }), 1);
          assert.equal(await metricValue(metrics, 'dlq_depth', { topic }), 1);
          assert.equal(await waiting(ledger, sub), 0);
        } finally {
          await closeAll(ledger);
        }
      });

      test('garbage on a subscribed topic → DLQ entry with the reason; later valid messages are processed', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const metrics = createMetricsRegistry('payment');
        const effects = new EffectCounter();
        const sub = uniqueName('garbage');
        const raw = await connectMqtt({ url: broker.url, clientId: uniqueName('raw'), clean: true });
        try {
          await consumer(sub, ledger, (ctx) => void effects.add(ctx.event.event_id), fast(), { metrics });
          await raw.publishAsync(toMqttTopic(topic), 'not json {', { qos: 1 });
          await raw.publishAsync(toMqttTopic(topic), JSON.stringify({ ...bookingReserved('bk-bad'), payload: { beds: 0 } }), { qos: 1 });
          const good = bookingReserved('bk-good');
          await publishAll(publisher, [toOutgoing(good)]);
          await waitFor(() => effects.count(good.event_id) === 1, { message: 'valid message processed' });
          const dead = await waitFor(
            async () => {
              const l = (await ledger.deadLetters.list(topic)).filter((d) => d.subscriber === sub);
              return l.length === 2 ? l : undefined;
            },
            { message: '2 invalid envelopes dead-lettered' },
          );
          assert.ok(dead.every((d) => d.reason === 'invalid_envelope'));
          const errors = dead.flatMap((d) => d.errors.map((x) => x.message)).join('\n');
          assert.match(errors, /not JSON/);
          assert.match(errors, /\/payload/);
          assert.ok(
            dead.some((d) => d.body === 'not json {'),
            'the body is kept exactly as received',
          );
          assert.equal(await metricValue(metrics, 'dlq_total', { subscriber: sub }), 2);
          assert.equal(effects.size, 1);
        } finally {
          await endMqtt(raw);
          await closeAll(ledger);
        }
      });

      test('breaker: opens at the threshold, holds messages without attempts, one probe after the timeout, closes on success; shared by instances', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const peer = await ledger.peer();
        const sub = uniqueName('breaker');
        let healthy = false;
        const calls: { id: string; attempt: number; at: number }[] = [];
        const openMs = 600;
        try {
          await consumer(
            sub,
            ledger,
            (ctx) => {
              calls.push({ id: ctx.event.event_id, attempt: ctx.attempt, at: Date.now() });
              if (!healthy) throw new Error('downstream down');
            },
            fast({
              breaker: { failureThreshold: 2, windowMs: 10_000, openMs },
              backoff: { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0 },
            }),
          );
          const [a, b] = [bookingReserved('bk-a'), bookingReserved('bk-b')];
          await publishAll(publisher, [a, b].map(toOutgoing));
          await waitFor(async () => (await peer.breakers.status(sub, topic)).state === 'open', {
            message: 'breaker open, seen by the other instance',
          });
          const openedAt = Date.now();
          const callsWhenOpened = calls.length;
          assert.equal(callsWhenOpened, 2);
          // While open: a new message waits in the ledger and nothing is attempted.
          const c = bookingReserved('bk-c');
          await publishAll(publisher, [toOutgoing(c)]);
          await waitFor(async () => (await waiting(ledger, sub)) === 3, { message: '3 messages held' });
          healthy = true;
          await waitFor(async () => (await peer.breakers.status(sub, topic)).state === 'closed', {
            timeoutMs: openMs + 5_000,
            message: 'breaker closed after a successful probe',
          });
          const probe = calls[callsWhenOpened]!;
          assert.ok(probe.at - openedAt >= openMs - 150, `probe ${probe.at - openedAt} ms after opening`);
          await waitFor(async () => (await waiting(ledger, sub)) === 0, { message: 'every held message processed' });
          // Held messages were not charged attempts: c ran once, on attempt 1.
          assert.deepEqual(
            calls.filter((x) => x.id === c.event_id).map((x) => x.attempt),
            [1],
          );
          for (const e of [a, b, c]) assert.ok(await peer.ledger.isProcessed(sub, topic, e.event_id));
        } finally {
          await closeAll(ledger);
        }
      });

      test('two instances of one subscriber → every event handled once, both do work', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const peer = await ledger.peer();
        const sub = uniqueName('pair');
        const effects = new EffectCounter();
        const byInstance = [0, 0];
        const slow = async (i: number, id: string) => {
          effects.add(id);
          byInstance[i]!++;
          await new Promise((r) => setImmediate(r));
        };
        try {
          await consumer(sub, ledger, (ctx) => slow(0, ctx.event.event_id), fast(), { instanceId: 'a' });
          await consumer(sub, peer, (ctx) => slow(1, ctx.event.event_id), fast(), { instanceId: 'b' });
          const events = Array.from({ length: 300 }, (_, i) => bookingReserved(`bk-${i}`));
          await publishAll(publisher, events.map(toOutgoing));
          await waitFor(() => effects.size === events.length, { timeoutMs: 15_000, message: `all ${events.length} handled` });
          await waitFor(async () => (await waiting(ledger, sub)) === 0, { message: 'ledger drained' });
          assert.deepEqual(effects.repeated(), []);
          assert.equal(effects.total, events.length);
          assert.ok(byInstance[0]! > 0 && byInstance[1]! > 0, `both instances worked: ${byInstance.join(' / ')}`);
        } finally {
          await closeAll(ledger);
        }
      });

      test('emitted events inherit correlation_id and get causation_id = the consumed event_id', async () => {
        const ledger = await startTestLedger(ledgerKind);
        const sub = uniqueName('emit');
        const received: EventEnvelope[] = [];
        const listener = await connectMqtt({ url: broker.url, clientId: uniqueName('listen'), clean: true });
        listener.on('message', (_t, payload) => received.push(JSON.parse(payload.toString()) as EventEnvelope));
        await listener.subscribeAsync(toMqttTopic(PaymentInitiated.topic), { qos: 1 });
        try {
          await consumer(sub, ledger, (ctx) => {
            ctx.emit(PaymentInitiated, {
              payment_id: `pay-${ctx.event.payload.booking_id}`,
              booking_id: ctx.event.payload.booking_id,
              amount: ctx.event.payload.total,
              provider: 'test',
              initiated_at: new Date().toISOString(),
            });
          });
          const flow = newEventId();
          const parent = bookingReserved('bk-emit', { correlation_id: flow });
          await publishAll(publisher, [toOutgoing(parent)]);
          const child = await waitFor(() => received.find((r) => r.causation_id === parent.event_id), { message: 'child event published' });
          assert.equal(child.correlation_id, flow);
          assert.equal(child.event_type, 'PaymentInitiated');
        } finally {
          await endMqtt(listener);
          await closeAll(ledger);
        }
      });
    });
  }
}
