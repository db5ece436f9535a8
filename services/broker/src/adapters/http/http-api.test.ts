// The broker's HTTP API against a broker on a private redis-server, with real MQTT and Redis subscribers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED, BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

let redis: Awaited<ReturnType<typeof startRedisServer>>;
let broker: RunningBroker;
let observer: MqttClient;
let channel: Redis;
let redisClient: Redis;
const mqttSeen: string[] = [];
const channelSeen: { channel: string; body: string }[] = [];

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const json = { 'content-type': 'application/json', ...auth };

// Response bodies are asserted field by field; `any` keeps that readable.
async function call(
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${broker.httpUrl}${path}`, {
    method,
    headers: init.headers ?? auth,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text; // not JSON: compared as text
  }
  return { status: res.status, body };
}

before(async () => {
  redis = await startRedisServer();
  broker = await startTestBroker({ redisUrl: redis.url, wsPort: null, bodyLimit: 64 * 1024 });
  observer = await connectMqtt(broker.mqttUrl, asService('observer'));
  observer.on('message', (_topic, payload) => mqttSeen.push(payload.toString()));
  await observer.subscribeAsync('albergue/#', { qos: 1 });
  channel = new Redis(redis.url);
  channel.on('message', (ch: string, body: string) => channelSeen.push({ channel: ch, body }));
  await channel.psubscribe('mqtt:channel:*');
  channel.on('pmessage', (_p: string, ch: string, body: string) => channelSeen.push({ channel: ch, body }));
  redisClient = new Redis(redis.url);
});

after(async () => {
  await closeMqtt(observer);
  channel.disconnect();
  redisClient.disconnect();
  await broker.close();
  await redis.stop();
});

const idsSeen = (xs: string[], id: string) => xs.filter((x) => x.includes(id)).length;

test('publish: stored under its event_id, emitted on mqtt:channel:<topic>, delivered over MQTT', async () => {
  const env = bookingReserved(1);
  const res = await call('POST', '/api/mqtt/publish', { body: JSON.stringify(env), headers: json });
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { status: 'published', event_id: env.event_id, topic: BOOKING_RESERVED, mqtt_topic: BOOKING_RESERVED_MQTT });
  await waitFor(() => idsSeen(mqttSeen, env.event_id) === 1, { timeoutMs: 5000, message: 'MQTT delivery' });
  await waitFor(() => channelSeen.some((c) => c.channel === `mqtt:channel:${BOOKING_RESERVED}` && c.body.includes(env.event_id)), {
    timeoutMs: 5000,
    message: 'Redis channel message',
  });
  assert.deepEqual(JSON.parse(mqttSeen.find((m) => m.includes(env.event_id))!), JSON.parse(JSON.stringify(env)));
  assert.equal(await redisClient.hget(`mqtt:message:${env.event_id}`, 'state'), 'published');
});

test('a repeated event_id is accepted once and published once', async () => {
  const env = bookingReserved(2);
  const first = await call('POST', '/api/mqtt/publish', { body: JSON.stringify(env), headers: json });
  const second = await call('POST', '/api/mqtt/publish', { body: JSON.stringify(env), headers: json });
  assert.equal(first.status, 202);
  assert.equal(second.status, 200);
  assert.equal(second.body.status, 'duplicate');
  const marker = bookingReserved(3);
  assert.equal((await call('POST', '/api/mqtt/publish', { body: JSON.stringify(marker), headers: json })).status, 202);
  await waitFor(() => idsSeen(mqttSeen, marker.event_id) === 1, { timeoutMs: 5000, message: 'marker' });
  assert.equal(idsSeen(mqttSeen, env.event_id), 1);
  assert.equal(channelSeen.filter((c) => c.body.includes(env.event_id)).length, 1);
});

test('an invalid envelope gets 400 listing every problem, and nothing is published', async () => {
  const env = { ...bookingReserved(4), event_id: 'not-a-uuid', occurred_at: 'yesterday' } as Record<string, unknown>;
  delete env.aggregate_id;
  const res = await call('POST', '/api/mqtt/publish', { body: JSON.stringify(env), headers: json });
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'invalid_envelope');
  assert.equal(res.body.type, 'urn:albergue:problem:invalid_envelope');
  const paths = (res.body.errors as { path: string }[]).map((p) => p.path);
  assert.ok(
    paths.includes('/body/event_id') &&
      paths.includes('/body/occurred_at') &&
      paths.some((p) => p === '/body' || p.includes('aggregate_id')),
    JSON.stringify(res.body.errors),
  );
  const badPayload = { ...bookingReserved(5), payload: { booking_id: 'x' } };
  const res2 = await call('POST', '/api/mqtt/publish', { body: JSON.stringify(badPayload), headers: json });
  assert.equal(res2.status, 400);
  assert.ok((res2.body.errors as unknown[]).length >= 2);
  const marker = bookingReserved(6);
  await call('POST', '/api/mqtt/publish', { body: JSON.stringify(marker), headers: json });
  await waitFor(() => idsSeen(mqttSeen, marker.event_id) === 1, { timeoutMs: 5000, message: 'marker' });
  assert.equal(idsSeen(mqttSeen, badPayload.event_id), 0);
  assert.equal(await redisClient.exists(`mqtt:message:${badPayload.event_id}`), 0);
});

test('retained messages can be read over HTTP', async () => {
  const env = bookingReserved(8);
  assert.equal((await call('POST', '/api/mqtt/publish?retain=true', { body: JSON.stringify(env), headers: json })).status, 202);
  const res = await call('GET', `/api/mqtt/retained?topic=${encodeURIComponent('albergue/booking/#')}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.messages, [
    {
      topic: BOOKING_RESERVED,
      mqtt_topic: BOOKING_RESERVED_MQTT,
      payload: JSON.parse(JSON.stringify(env)),
      payload_size: Buffer.byteLength(JSON.stringify(env)),
    },
  ]);
  const logical = await call('GET', `/api/mqtt/retained?topic=${BOOKING_RESERVED}`);
  assert.equal(logical.body.messages.length, 1);
  assert.equal((await call('GET', '/api/mqtt/retained?topic=a/%23/b')).status, 400);
  assert.equal((await call('GET', '/api/mqtt/retained')).status, 400);
});

test('/api endpoints need the bearer token (401), ops endpoints are open', async () => {
  for (const [method, path] of [
    ['POST', '/api/mqtt/publish'],
    ['GET', '/api/mqtt/dlq'],
    ['POST', '/api/mqtt/dlq/x/purge'],
    ['POST', '/api/mqtt/circuits/reset'],
    ['POST', '/api/mqtt/pull'],
  ] as const) {
    const none = await fetch(`${broker.httpUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'POST' ? '{}' : null,
    });
    assert.equal(none.status, 401, `${method} ${path} without token`);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    const wrong = await fetch(`${broker.httpUrl}${path}`, {
      method,
      headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
      body: method === 'POST' ? '{}' : null,
    });
    assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
  }
  const health = await call('GET', '/health', { headers: {} });
  assert.deepEqual([health.status, health.body], [200, { status: 'ok', mqtt: 'up', redis: 'up' }]);
  const metrics = await call('GET', '/metrics', { headers: {} });
  assert.match(metrics.body as string, /events_published_total\{topic="albergue\.booking\.v1\.BookingReserved",service="broker"\} \d+/);
  const spec = await call('GET', '/openapi.json', { headers: {} });
  assert.equal(spec.body.openapi, '3.1.0');
  for (const p of [
    '/api/mqtt/publish',
    '/api/mqtt/retained',
    '/api/mqtt/pull',
    '/api/mqtt/ack',
    '/api/mqtt/nack',
    '/api/mqtt/subscriptions',
    '/api/mqtt/dlq/{topic}/replay',
    '/api/mqtt/circuits/reset',
  ]) {
    assert.ok(p in spec.body.paths, `${p} documented`);
  }
  assert.equal((await call('GET', '/docs', { headers: {} })).status, 200);
});

test('bad input gets a 4xx, never a 5xx, and the broker keeps serving', async () => {
  const big = JSON.stringify({ ...bookingReserved(9), padding: 'x'.repeat(100 * 1024) });
  const cases: [string, string, { body?: string; headers?: Record<string, string> }, number][] = [
    ['POST', '/api/mqtt/publish', { body: big, headers: json }, 413],
    ['POST', '/api/mqtt/publish', { body: '{"event_id": ', headers: json }, 400],
    ['POST', '/api/mqtt/publish', { body: '[1,2]', headers: json }, 400],
    ['POST', '/api/mqtt/publish', { body: 'null', headers: json }, 400],
    ['POST', '/api/mqtt/publish', { body: '', headers: json }, 400],
    ['POST', '/api/mqtt/publish', { body: 'event_id=1', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' } }, 415],
    ['POST', '/api/mqtt/publish', { body: JSON.stringify(bookingReserved(10)), headers: { ...auth, 'content-type': 'text/plain' } }, 415],
    ['POST', '/api/mqtt/publish?retain=maybe', { body: JSON.stringify(bookingReserved(11)), headers: json }, 400],
    ['GET', '/api/mqtt/nope', {}, 404],
    ['GET', '/nope', { headers: {} }, 404],
    ['DELETE', '/api/mqtt/publish', {}, 404],
    ['POST', '/api/mqtt/ack', { body: '{"receipt":"forged.receipt"}', headers: json }, 400],
    ['POST', '/api/mqtt/nack', { body: '{"receipt":"x"}', headers: json }, 400],
    ['POST', '/api/mqtt/pull', { body: '{"subscriber":"ghost"}', headers: json }, 404],
    ['POST', '/api/mqtt/pull', { body: '{"subscriber":"x","max":0}', headers: json }, 400],
    ['POST', '/api/mqtt/subscriptions', { body: '{"subscriber":"Bad Name!","topic_filter":"albergue/#"}', headers: json }, 400],
    ['POST', '/api/mqtt/subscriptions', { body: '{"subscriber":"ok","topic_filter":"nothing/here"}', headers: json }, 400],
    ['GET', '/api/mqtt/dlq/x?limit=abc', {}, 400],
  ];
  for (const [method, path, init, expected] of cases) {
    const res = await call(method, path, init);
    assert.equal(
      res.status,
      expected,
      `${method} ${path} ${init.body?.slice(0, 40) ?? ''} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`,
    );
    assert.equal(
      typeof res.body === 'object' && res.body !== null && typeof res.body.detail === 'string' && res.body.status === expected,
      true,
      `${method} ${path} explains itself`,
    );
  }
  assert.equal((await call('GET', '/health', { headers: {} })).status, 200);
});
