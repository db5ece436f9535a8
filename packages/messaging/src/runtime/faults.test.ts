// Faults that must not become outages (issue 10): an envelope nested too deep, a poison message, a
// message the ledger refuses, a ledger that is away, a broker that refuses the password for a while.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BookingReserved, PaymentInitiated, toMqttTopic } from '@albergue/events';
import { createMetricsRegistry } from '@albergue/platform';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { Registry } from 'prom-client';
import { deadLetterId } from '../dlq/entries.js';
import { PermanentError } from '../errors.js';
import { connectMqtt, endMqtt } from '../mqtt/connect.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { publishAll } from '../ports/publisher.js';
import { toOutgoing } from '../mqtt/outgoing.js';
import { declareService } from '../declarations.js';
import { MemoryDeliveryLedger } from '../ledger/memory-ledger.js';
import { RedisDeliveryLedger } from '../ledger/redis-ledger.js';
import type { IncomingMessage, RecordOutcome, SubscriptionPolicy } from '../ports/ledger.js';
import type { Handler } from '../router/router.js';
import { bookingReserved, EffectCounter, metricValue, startAedes, startRedisServer } from '../testing/index.js';
import type { LedgerSet, TestAedes } from '../testing/index.js';
import { ledgerKinds, startTestLedger } from '../testing/ledgers.js';
import { createConsumer } from './consumer.js';
import type { Consumer, ConsumerOptions } from './consumer.js';

const topic = BookingReserved.topic;

const policy = (over: Partial<SubscriptionPolicy> = {}): Partial<SubscriptionPolicy> => ({
  maxAttempts: 5,
  visibilityTimeoutMs: 3_000,
  backoff: { initialMs: 200, maxMs: 2_000, multiplier: 2, jitter: 0 },
  breaker: { failureThreshold: 5, windowMs: 30_000, openMs: 10_000 },
  dedupWindowMs: 60_000,
  ...over,
});

/** A valid BookingReserved whose payload carries one extra field nested `depth` levels deep. */
function deepEnvelope(bookingId: string, depth: number): string {
  return JSON.stringify(bookingReserved(bookingId)).replace(
    '"payload":{',
    `"payload":{"x":${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)},`,
  );
}

async function consumerOn(
  url: string,
  subscriber: string,
  stores: LedgerSet,
  handler: Handler<typeof BookingReserved>,
  extra: Partial<ConsumerOptions> & { policy?: Partial<SubscriptionPolicy> } = {},
): Promise<Consumer> {
  const declaration = declareService({
    service: 'payment',
    context: 'payment',
    publishes: [PaymentInitiated],
    subscribes: [{ event: BookingReserved, handler: 'testOnBookingReserved', subscriber, policy: extra.policy ?? policy() }],
  });
  const { policy: _p, ...rest } = extra;
  const c = createConsumer({
    declaration,
    subscriber,
    mqtt: { url, reconnectMs: 50, maxReconnectMs: 200 },
    ...stores,
    worker: { concurrency: 16, maxIdleMs: 20 },
    ...rest,
  });
  c.on(BookingReserved, 'testOnBookingReserved', handler);
  await c.start();
  return c;
}

for (const ledgerKind of ledgerKinds()) {
  describe(`faults with the ${ledgerKind} ledger`, () => {
    let broker: TestAedes;
    let publisher: MqttPublisher;
    before(async () => {
      broker = await startAedes();
      publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
    });
    after(async () => {
      await publisher.close();
      await broker.close();
    });

    test('an envelope nested 10,000 levels deep over MQTT → one DLQ entry (id from the bytes, bounded body), the consumer keeps consuming', async () => {
      const ledger = await startTestLedger(ledgerKind);
      const metrics = createMetricsRegistry('payment');
      const effects = new EffectCounter();
      const sub = uniqueName('deep');
      const c = await consumerOn(broker.url, sub, ledger, (ctx) => void effects.add(ctx.event.event_id), { metrics });
      try {
        const deep = deepEnvelope('bk-deep', 10_000);
        assert.ok(deep.length > 60_000);
        const before = [1, 2].map((i) => bookingReserved(`bk-before-${i}`));
        const later = Array.from({ length: 20 }, (_, i) => bookingReserved(`bk-after-${i}`));
        await publishAll(publisher, before.map(toOutgoing));
        await publishAll(publisher, [{ topic, eventId: 'deep', body: deep }]);
        // The same bytes again (a publisher retry): the same DLQ entry, not a second one.
        await publishAll(publisher, [{ topic, eventId: 'deep', body: deep }]);
        await publishAll(publisher, later.map(toOutgoing));
        await waitFor(() => [...before, ...later].every((e) => effects.count(e.event_id) === 1), {
          message: 'every valid message before and after the deep one is handled',
          timeoutMs: 10_000,
        });
        const entries = await ledger.deadLetters.list(topic);
        assert.equal(entries.length, 1);
        const e = entries[0]!;
        assert.equal(e.reason, 'invalid_envelope');
        assert.equal(e.subscriber, sub);
        assert.equal(e.id, deadLetterId(sub, Buffer.from(deep)));
        assert.match(e.errors[0]!.message, /nested deeper than the limit of 64 levels/);
        assert.equal(e.bodyTruncated, true);
        assert.equal(e.bodyBytes, Buffer.byteLength(deep));
        assert.equal(e.bodySha256, createHash('sha256').update(deep).digest('hex'));
        assert.ok(Buffer.byteLength(e.body) <= 4_096);
        assert.equal(await metricValue(metrics, 'dlq_total', { subscriber: sub, topic }), 1);
        assert.equal(c.transport.stats.invalid, 2);
        assert.deepEqual(c.health(), { ok: true });
      } finally {
        await c.close();
        await ledger.close();
      }
    });

    for (const kind of ['PermanentError', 'plain Error'] as const) {
      test(`one poison (${kind}) among 100 valid: the valid ones are not held back, one DLQ entry, the breaker stays closed`, async (t) => {
        const ledger = await startTestLedger(ledgerKind);
        const metrics = createMetricsRegistry('payment');
        const effects = new EffectCounter();
        const sub = uniqueName('poison');
        const poison = bookingReserved('bk-poison');
        let poisonAttempts = 0;
        const c = await consumerOn(
          broker.url,
          sub,
          ledger,
          (ctx) => {
            if (ctx.event.event_id === poison.event_id) {
              poisonAttempts++;
              if (kind === 'PermanentError')
                throw new PermanentError('booking bk-poison can never be charged', { code: 'uncharged_booking' });
              throw new Error('bk-poison makes the handler crash');
            }
            effects.add(ctx.event.event_id);
          },
          { metrics },
        );
        try {
          const valid = Array.from({ length: 100 }, (_, i) => bookingReserved(`bk-v${i}`));
          const started = Date.now();
          await publishAll(publisher, [...valid.slice(0, 10), poison, ...valid.slice(10)].map(toOutgoing));
          await waitFor(() => valid.every((e) => effects.count(e.event_id) === 1), { message: '100 valid processed', timeoutMs: 10_000 });
          const tookMs = Date.now() - started;
          t.diagnostic(`100 valid messages around one poison handled in ${tookMs} ms`);
          // The poison's retry schedule (200 + 400 + 800 + 1600 ms) ends ~3 s after its first attempt:
          // the valid ones do not wait for it (nor for a breaker it might have opened).
          assert.ok(tookMs < 3_000, `valid messages took ${tookMs} ms`);
          await waitFor(async () => (await ledger.deadLetters.list(topic)).length === 1, {
            message: 'the poison dead-lettered',
            timeoutMs: 10_000,
          });
          const [entry] = await ledger.deadLetters.list(topic);
          assert.equal(entry!.id, poison.event_id);
          assert.equal(entry!.reason, kind === 'PermanentError' ? 'permanent_error' : 'max_attempts');
          assert.equal(poisonAttempts, kind === 'PermanentError' ? 1 : 5);
          if (kind === 'PermanentError') assert.equal(entry!.code, 'uncharged_booking');
          const st = await ledger.breakers.status(sub, topic);
          assert.equal(st.state, 'closed');
          assert.equal(st.failures, kind === 'PermanentError' ? 0 : 1);
          assert.equal(await metricValue(metrics, 'dlq_total', { subscriber: sub, topic }), 1);
        } finally {
          await c.close();
          await ledger.close();
        }
      });
    }

    test("a real outage (the handler's database away for every message) still opens the breaker", async () => {
      const ledger = await startTestLedger(ledgerKind);
      const sub = uniqueName('outage');
      let databaseUp = false;
      const effects = new EffectCounter();
      const c = await consumerOn(
        broker.url,
        sub,
        ledger,
        (ctx) => {
          if (!databaseUp) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          effects.add(ctx.event.event_id);
        },
        { policy: policy({ breaker: { failureThreshold: 5, windowMs: 30_000, openMs: 500 } }) },
      );
      try {
        const events = Array.from({ length: 10 }, (_, i) => bookingReserved(`bk-o${i}`));
        await publishAll(publisher, events.map(toOutgoing));
        await waitFor(async () => (await ledger.breakers.status(sub, topic)).state === 'open', { message: 'breaker open' });
        databaseUp = true;
        await waitFor(() => events.every((e) => effects.count(e.event_id) === 1), {
          message: 'all processed after the outage',
          timeoutMs: 15_000,
        });
        assert.equal((await ledger.breakers.status(sub, topic)).state, 'closed');
        assert.deepEqual(await ledger.deadLetters.list(topic), []);
      } finally {
        await c.close();
        await ledger.close();
      }
    });
  });
}

/** A memory ledger whose `record` can refuse one event id for good, or fail for everything (Redis away). */
class FaultyLedger extends MemoryDeliveryLedger {
  refuse = new Set<string>();
  down = false;

  override async record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const bad = messages.find((m) => this.refuse.has(m.eventId));
    // What Redis answers for a script that fails on this message's data: the same every time.
    if (bad)
      throw Object.assign(new Error(`ERR user_script:1: Script attempted to access nonexistent global variable (${bad.eventId})`), {
        name: 'ReplyError',
      });
    return super.record(subscriber, messages);
  }
}

describe('recording never stalls', () => {
  let broker: TestAedes;
  let publisher: MqttPublisher;
  before(async () => {
    broker = await startAedes();
    publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
  });
  after(async () => {
    await publisher.close();
    await broker.close();
  });

  test('a message the ledger refuses for good goes to the DLQ (unrecordable); the rest of its batch and later batches go on', async () => {
    const ledger = new FaultyLedger();
    const metrics: Registry = createMetricsRegistry('payment');
    const effects = new EffectCounter();
    const sub = uniqueName('unrec');
    const bad = bookingReserved('bk-unrecordable');
    ledger.refuse.add(bad.event_id);
    const c = await consumerOn(
      broker.url,
      sub,
      { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers },
      (ctx) => void effects.add(ctx.event.event_id),
      { metrics, batch: { maxMessages: 50, maxDelayMs: 20 } },
    );
    try {
      const first = Array.from({ length: 30 }, (_, i) => bookingReserved(`bk-u${i}`));
      const later = Array.from({ length: 30 }, (_, i) => bookingReserved(`bk-l${i}`));
      await publishAll(publisher, [...first.slice(0, 15), bad, ...first.slice(15)].map(toOutgoing));
      await publishAll(publisher, later.map(toOutgoing));
      await waitFor(() => [...first, ...later].every((e) => effects.count(e.event_id) === 1), {
        message: 'every other message handled',
        timeoutMs: 10_000,
      });
      await waitFor(async () => (await ledger.deadLetters.list(topic)).length === 1, { message: 'the refused one dead-lettered' });
      const [entry] = await ledger.deadLetters.list(topic);
      assert.equal(entry!.reason, 'unrecordable');
      assert.equal(entry!.id, bad.event_id);
      assert.match(entry!.errors[0]!.message, /refused to record it 3 times: ERR user_script/);
      assert.equal(c.transport.stats.unrecordable, 1);
      assert.equal(await metricValue(metrics, 'dlq_total', { subscriber: sub, topic }), 1);
      assert.deepEqual(c.health(), { ok: true });
    } finally {
      await c.close();
    }
  });

  test('the ledger away: acks held and retried with backoff, /health not ready with the reason after the stall limit, ready again once it is back', async () => {
    const ledger = new FaultyLedger();
    const effects = new EffectCounter();
    const sub = uniqueName('stall');
    const c = await consumerOn(
      broker.url,
      sub,
      { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers },
      (ctx) => void effects.add(ctx.event.event_id),
      { stallAfterMs: 300 },
    );
    try {
      assert.deepEqual(c.health(), { ok: true });
      ledger.down = true;
      const events = Array.from({ length: 5 }, (_, i) => bookingReserved(`bk-s${i}`));
      await publishAll(publisher, events.map(toOutgoing));
      await waitFor(() => c.transport.stats.recordFailures >= 2, { message: 'recording retried' });
      assert.equal(c.health().ok, true, 'not yet past the stall limit');
      const h = await waitFor(
        () => {
          const x = c.health();
          return x.ok ? undefined : x;
        },
        { message: 'unhealthy after the stall limit' },
      );
      assert.match(h.reason ?? '', new RegExp(`${sub}: 5 message\\(s\\) not recorded for \\d+ s: connect ECONNREFUSED`));
      assert.deepEqual(await ledger.deadLetters.list(topic), [], 'a transient failure dead-letters nothing');
      ledger.down = false;
      await waitFor(() => events.every((e) => effects.count(e.event_id) === 1), {
        message: 'all handled once the ledger is back',
        timeoutMs: 10_000,
      });
      assert.deepEqual(c.health(), { ok: true });
    } finally {
      await c.close();
    }
  });
});

test('Redis killed while messages arrive: real ioredis failures count as transient (nothing dead-lettered), health says why, all handled once Redis is back', async () => {
  // A redis-server of this test's own (no persistence): it is killed and started again.
  const redis = await startRedisServer();
  const broker = await startAedes();
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
  const ledger = new RedisDeliveryLedger({ url: redis.url, namespace: `${uniqueName('t_restart')}:` });
  ledger.conn.redis.on('error', () => undefined);
  const effects = new EffectCounter();
  const sub = uniqueName('restart');
  const c = await consumerOn(
    broker.url,
    sub,
    { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers },
    (ctx) => void effects.add(ctx.event.event_id),
    { stallAfterMs: 500 },
  );
  try {
    const first = Array.from({ length: 5 }, (_, i) => bookingReserved(`bk-r${i}`));
    await publishAll(publisher, first.map(toOutgoing));
    await waitFor(() => first.every((e) => effects.count(e.event_id) === 1), { message: 'handled before the outage' });
    await redis.kill('SIGKILL');
    const during = Array.from({ length: 20 }, (_, i) => bookingReserved(`bk-d${i}`));
    await publishAll(publisher, during.map(toOutgoing));
    await waitFor(() => c.transport.stats.recordFailures >= 4, {
      message: 'recording failed and was retried several times',
      timeoutMs: 15_000,
    });
    const h = await waitFor(
      () => {
        const x = c.health();
        return x.ok ? undefined : x;
      },
      { message: 'not healthy while Redis is away', timeoutMs: 15_000 },
    );
    assert.match(h.reason ?? '', /not recorded for \d+ s|cannot lease/);
    await redis.restart();
    await waitFor(() => during.every((e) => effects.count(e.event_id) === 1), {
      message: 'every message handled once Redis is back',
      timeoutMs: 20_000,
    });
    assert.equal(c.transport.stats.unrecordable, 0, 'an outage never makes a message unrecordable');
    assert.deepEqual(await ledger.deadLetters.topics(), []);
    await waitFor(() => c.health().ok, { message: 'healthy again' });
  } finally {
    await c.close();
    await ledger.close();
    await publisher.close();
    await broker.close();
    await redis.stop();
  }
});

test('the broker refuses the password for a while: the consumer logs each refusal, says why on health, reconnects by itself and consumes', async () => {
  const broker = await startAedes();
  let refuse = false;
  let refusals = 0;
  broker.broker.authenticate = (_client, _username, password, done) => {
    if (refuse || password?.toString() !== 'right') {
      refusals++;
      const err = Object.assign(new Error('bad username or password'), { returnCode: 4 });
      done(err, false);
      return;
    }
    done(null, true);
  };
  const ledger = new MemoryDeliveryLedger();
  const effects = new EffectCounter();
  const sub = uniqueName('connack');
  const warnings: string[] = [];
  const logger = {
    child: () => logger,
    info: () => undefined,
    warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? ''),
    error: () => undefined,
    debug: () => undefined,
    trace: () => undefined,
    fatal: () => undefined,
  } as never;
  const c = await consumerOn(
    broker.url,
    sub,
    { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers },
    (ctx) => void effects.add(ctx.event.event_id),
    { mqtt: { url: broker.url, username: 'payment', password: 'right', reconnectMs: 50, maxReconnectMs: 200 }, logger },
  );
  const pub = await connectMqtt({ url: broker.url, clientId: uniqueName('p'), clean: true, username: 'pub', password: 'right' });
  try {
    refuse = true;
    broker.disconnectAll();
    await waitFor(() => refusals >= 3, { message: 'three refused reconnects' });
    const h = await waitFor(
      () => {
        const x = c.health();
        return x.ok ? undefined : x;
      },
      { message: 'health says why' },
    );
    assert.match(h.reason ?? '', /^mqtt: connack refused: bad username or password/);
    assert.ok(warnings.filter((w) => /refused by the broker/.test(w)).length >= 2, 'each refusal is logged');
    refuse = false;
    await waitFor(() => c.health().ok, { message: 'reconnected by itself', timeoutMs: 5_000 });
    await waitFor(() => pub.connected, { message: 'publisher back' });
    const e = bookingReserved('bk-after-refusal');
    await pub.publishAsync(toMqttTopic(topic), JSON.stringify(e), { qos: 1 });
    await waitFor(() => effects.count(e.event_id) === 1, { message: 'consumed after the refusals' });
  } finally {
    await endMqtt(pub);
    await c.close();
    await broker.close();
  }
});
