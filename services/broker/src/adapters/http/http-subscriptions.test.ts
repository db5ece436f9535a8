// HTTP consumer subscriptions (issue 9.3, 9.4, 10.7): their own namespace, list/delete, never
// re-applied when squatting, a bounded DLQ answer, DLQ ids from the bytes, and nothing acknowledged
// that the ledger could not record.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { RedisDeliveryLedger } from '@albergue/messaging';
import { freePort, waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED, BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';
import { TEST_DECLARATIONS, testDeclaration } from '../../testing/declarations.js';

async function call(
  broker: RunningBroker,
  method: string,
  path: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(`${broker.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json(), type: res.headers.get('content-type') };
}

describe('HTTP subscriptions live in their own namespace (Redis)', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  let broker: RunningBroker | undefined;
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    await broker?.close();
    await redis.stop();
  });

  test("a declared subscriber's name is a 409 (every declared service and the MQTT accounts), others register", async () => {
    broker = await startTestBroker({ wsPort: null, redisUrl: redis.url });
    for (const name of [...TEST_DECLARATIONS.map((d) => d.service), 'observer', 'anonymous']) {
      const res = await call(broker, 'POST', '/api/mqtt/subscriptions', {
        subscriber: name,
        topic_filter: 'albergue/booking/#',
        max_attempts: 1,
        visibility_timeout_ms: 100,
      });
      assert.equal(res.status, 409, name);
      assert.equal(res.body.code, 'subscriber_name_taken');
      assert.equal(res.type, 'application/problem+json; charset=utf-8');
      assert.equal(res.body.errors[0].path, '/body/subscriber');
    }
    assert.deepEqual((await call(broker, 'GET', '/api/mqtt/subscriptions')).body.subscriptions, []);
    assert.equal(
      (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'reports', topic_filter: 'albergue/booking/#' })).status,
      201,
    );
    assert.equal(
      (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'reports', topic_filter: 'albergue/payment/#' })).status,
      201,
    );
    const listed = (await call(broker, 'GET', '/api/mqtt/subscriptions')).body.subscriptions as {
      subscriber: string;
      topic_filter: string;
      active: boolean;
    }[];
    assert.deepEqual(
      listed.map((s) => [s.subscriber, s.topic_filter, s.active]),
      [
        ['reports', 'albergue/booking/#', true],
        ['reports', 'albergue/payment/#', true],
      ],
    );

    const one = await call(broker, 'DELETE', `/api/mqtt/subscriptions/reports?topic_filter=${encodeURIComponent('albergue/payment/#')}`);
    assert.equal(one.status, 200);
    assert.deepEqual(
      (one.body.deleted as { topic_filter: string }[]).map((s) => s.topic_filter),
      ['albergue/payment/#'],
    );
    assert.equal((await call(broker, 'DELETE', '/api/mqtt/subscriptions/reports')).status, 200);
    assert.equal((await call(broker, 'DELETE', '/api/mqtt/subscriptions/reports')).status, 404);
    assert.deepEqual((await call(broker, 'GET', '/api/mqtt/subscriptions')).body.subscriptions, []);
    // Deleted means no longer fed: a publish after the delete is not recorded for it.
    const booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    try {
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(1)), { qos: 1 });
    } finally {
      await closeMqtt(booking);
    }
    assert.equal((await call(broker, 'POST', '/api/mqtt/pull', { subscriber: 'reports' })).status, 404);
    await broker.close();
    broker = undefined;
  });

  test('a squatting registration stored by an older broker is never re-applied at start, and can be deleted', async () => {
    const r = new Redis(redis.url);
    const squat = {
      subscriber: 'payment',
      filter: 'albergue/booking/#',
      maxAttempts: 1,
      visibilityTimeoutMs: 100,
      retryDelayMs: 0,
      maxRetryDelayMs: 0,
      createdAt: new Date().toISOString(),
    };
    await r.hset('mqtt:http-subscriptions', `payment\u0000${squat.filter}`, JSON.stringify(squat));
    r.disconnect();
    broker = await startTestBroker({ wsPort: null, redisUrl: redis.url });
    const ledger = new RedisDeliveryLedger({ url: redis.url });
    let booking: MqttClient | undefined;
    try {
      booking = await connectMqtt(broker.mqttUrl, asService('booking'));
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(2)), { qos: 1 });
      // A marker subscription proves the feed ran for that publish; payment's ledger stays untouched.
      assert.equal(
        (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'marker', topic_filter: BOOKING_RESERVED })).status,
        201,
      );
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(3)), { qos: 1 });
      await waitFor(async () => (await ledger.depth('marker'))[BOOKING_RESERVED] === 1, { timeoutMs: 5000, message: 'marker recorded' });
      assert.deepEqual(await ledger.depth('payment'), {});
      assert.equal((await call(broker, 'POST', '/api/mqtt/pull', { subscriber: 'payment' })).status, 404);
      const listed = (await call(broker, 'GET', '/api/mqtt/subscriptions')).body.subscriptions as { subscriber: string; active: boolean }[];
      assert.deepEqual(
        listed.map((s) => [s.subscriber, s.active]),
        [
          ['marker', true],
          ['payment', false],
        ],
      );
      assert.equal((await call(broker, 'DELETE', '/api/mqtt/subscriptions/payment')).status, 200);
      assert.deepEqual(
        ((await call(broker, 'GET', '/api/mqtt/subscriptions')).body.subscriptions as { subscriber: string }[]).map((s) => s.subscriber),
        ['marker'],
      );
    } finally {
      await closeMqtt(booking);
      await ledger.close();
    }
  });
});

describe('dead letters of HTTP consumers: ids from the bytes, bounded answers', () => {
  let broker: RunningBroker;
  before(async () => {
    broker = await startTestBroker({ wsPort: null });
  });
  after(async () => {
    await broker.close();
  });

  test('a 200 KB invalid envelope sent twice is one DLQ entry whose id comes from its bytes; the API returns a 4 KiB prefix with size and SHA-256', async () => {
    assert.equal(
      (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'reports', topic_filter: 'albergue/booking/#' })).status,
      201,
    );
    const garbage = `{"not":"an envelope","pad":"${'é'.repeat(100_000)}"}`;
    const bytes = Buffer.from(garbage);
    const booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    try {
      await booking.publishAsync(BOOKING_RESERVED_MQTT, bytes, { qos: 1 });
      await booking.publishAsync(BOOKING_RESERVED_MQTT, bytes, { qos: 1 });
    } finally {
      await closeMqtt(booking);
    }
    const page = await waitFor(
      async () => {
        const p = await call(broker, 'GET', `/api/mqtt/dlq/${BOOKING_RESERVED}`);
        return (p.body as { total: number }).total >= 1 ? (p.body as { total: number; entries: Record<string, unknown>[] }) : undefined;
      },
      { timeoutMs: 5000, message: 'dead letter' },
    );
    assert.equal(page.total, 1);
    const entry = page.entries[0] as {
      id: string;
      body: string;
      body_size: number;
      body_sha256: string;
      body_truncated: boolean;
      dead_lettered_at?: string;
      deadLetteredAt?: string;
    };
    const id = `invalid-${createHash('sha256').update('reports').update('\n').update(bytes).digest('hex').slice(0, 32)}`;
    assert.equal(entry.id, id);
    assert.ok(Buffer.byteLength(entry.body) <= 4096, `body of ${Buffer.byteLength(entry.body)} bytes`);
    assert.ok(garbage.startsWith(entry.body));
    assert.equal(entry.body_size, bytes.length);
    assert.equal(entry.body_sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(entry.body_truncated, true);
    assert.equal(entry.dead_lettered_at !== undefined && entry.deadLetteredAt === undefined, true, 'snake_case');
    const single = await call(broker, 'GET', `/api/mqtt/dlq/${BOOKING_RESERVED}/${id}`);
    assert.ok(Buffer.byteLength((single.body as { body: string }).body) <= 4096);
    const missing = await call(broker, 'GET', `/api/mqtt/dlq/${BOOKING_RESERVED}/nope`);
    assert.deepEqual(
      [missing.status, missing.body.code, missing.type],
      [404, 'dead_letter_not_found', 'application/problem+json; charset=utf-8'],
    );
  });
  test('an envelope nested 10,000 levels deep: a 400 over HTTP publish; over MQTT a DLQ entry, and the feed keeps recording', async () => {
    let deep = '"x"';
    for (let i = 0; i < 10_000; i++) deep = `{"a":${deep}}`;
    const env = bookingReserved(77) as unknown as { payload: Record<string, unknown> };
    const body = JSON.stringify(env).replace(/}$/, '').replace('"payload":{', `"payload":{"deep":${deep},`) + '}';
    const res = await fetch(`${broker.httpUrl}/api/mqtt/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    assert.ok(res.status >= 400 && res.status < 500, `HTTP publish → ${res.status}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');

    assert.equal(
      (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'deep-reports', topic_filter: BOOKING_RESERVED })).status,
      201,
    );
    const booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    const next = bookingReserved(78);
    try {
      await booking.publishAsync(BOOKING_RESERVED_MQTT, body, { qos: 1 });
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(next), { qos: 1 });
    } finally {
      await closeMqtt(booking);
    }
    // The feed did not stall on the deep one: the next message is in deep-reports' ledger.
    const pulled = await waitFor(
      async () => {
        const p = await call(broker, 'POST', '/api/mqtt/pull', { subscriber: 'deep-reports' });
        const ids = (p.body.messages as { event_id: string }[]).map((m) => m.event_id);
        return ids.length > 0 ? ids : undefined;
      },
      { timeoutMs: 5000, message: 'the next message recorded' },
    );
    assert.deepEqual(pulled, [next.event_id]);
    const entries = (
      (await call(broker, 'GET', `/api/mqtt/dlq/${BOOKING_RESERVED}?limit=1000`)).body.entries as {
        subscriber: string;
        reason: string;
        body: string;
        body_size: number;
      }[]
    ).filter((e) => e.subscriber === 'deep-reports');
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.reason, 'invalid_envelope');
    assert.equal(entries[0]!.body_size, Buffer.byteLength(body));
    assert.ok(Buffer.byteLength(entries[0]!.body) <= 4096);
  });
});

/** A redis-server with AOF on a fixed port, so it can be stopped and started again with its data. */
async function startAofRedis(port: number, dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    { timeoutMs: 10_000, message: `redis-server on ${port}` },
  );
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

test('the broker never acknowledges what it could not record for an HTTP consumer: PUBACK waits for the ledger to come back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'albergue-h1-aof-'));
  const port = await freePort();
  let redis = await startAofRedis(port, dir);
  const ledger = new RedisDeliveryLedger({ url: redis.url });
  const broker = await startTestBroker({ wsPort: null, ledger: { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers } });
  let booking: MqttClient | undefined;
  try {
    assert.equal(
      (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'reports', topic_filter: BOOKING_RESERVED })).status,
      201,
    );
    await redis.stop();

    booking = await connectMqtt(broker.mqttUrl, asService('booking'));
    const env = bookingReserved(42);
    let acked = false;
    booking.publish(BOOKING_RESERVED_MQTT, JSON.stringify(env), { qos: 1 }, (err) => {
      if (!err) acked = true;
    });
    const failures = async () =>
      Number(
        /^http_consumer_record_failures_total\{[^}]*\} (\d+)/m.exec(await (await fetch(`${broker.httpUrl}/metrics`)).text())?.[1] ?? 0,
      );
    // Several failed writes (each after a backoff) and still no PUBACK.
    await waitFor(async () => (await failures()) >= 3, { timeoutMs: 10_000, message: 'failed ledger writes' });
    assert.equal(acked, false, 'acknowledged a message the ledger does not hold');

    redis = await startAofRedis(port, dir);
    await waitFor(() => acked, { timeoutMs: 15_000, message: 'PUBACK once the ledger is back' });
    const pulled = await call(broker, 'POST', '/api/mqtt/pull', { subscriber: 'reports' });
    assert.deepEqual(
      (pulled.body.messages as { event_id: string }[]).map((m) => m.event_id),
      [env.event_id],
    );
  } finally {
    await closeMqtt(booking);
    await broker.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a declared consumer group named apart from its service is reserved too', async () => {
  const paymentService = testDeclaration('payment');
  const first = paymentService.subscribes[0]!;
  const declarations = [{ ...paymentService, subscribes: [{ ...first, subscriber: 'refunds' }, ...paymentService.subscribes.slice(1)] }];
  const broker = await startTestBroker({ wsPort: null, declarations });
  try {
    const res = await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'refunds', topic_filter: 'albergue/booking/#' });
    assert.deepEqual([res.status, res.body.code], [409, 'subscriber_name_taken']);
    assert.equal(
      (await call(broker, 'POST', '/api/mqtt/subscriptions', { subscriber: 'refunds-report', topic_filter: 'albergue/booking/#' })).status,
      201,
    );
  } finally {
    await broker.close();
  }
});
