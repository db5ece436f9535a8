// The broker on Redis (aedes-persistence-redis + mqemitter-redis), on a private redis-server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

let redis: Awaited<ReturnType<typeof startRedisServer>>;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

async function publishMany(broker: RunningBroker, from: number, count: number): Promise<void> {
  const booking = await connectMqtt(broker.mqttUrl, asService('booking'));
  try {
    for (let i = from; i < from + count; i++)
      await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(i)), { qos: 1 });
  } finally {
    await closeMqtt(booking);
  }
}

test('an offline persistent-session subscriber receives every message on return, across a broker restart', async () => {
  const session = { clientId: 'albergue-payment-persistent-1', clean: false };
  let broker: RunningBroker | undefined = await startTestBroker({ redisUrl: redis.url, wsPort: null });
  let sub: MqttClient | undefined;
  try {
    sub = await connectMqtt(broker.mqttUrl, asService('payment', session));
    await sub.subscribeAsync(BOOKING_RESERVED_MQTT, { qos: 1 });
    await closeMqtt(sub);

    await publishMany(broker, 0, 25);
    await broker.close();
    broker = await startTestBroker({ redisUrl: redis.url, wsPort: null });
    await publishMany(broker, 25, 25);

    const got = new Set<string>();
    sub = await connectMqtt(broker.mqttUrl, asService('payment', session), (_t, payload) =>
      got.add((JSON.parse(payload.toString()) as { payload: { booking_id: string } }).payload.booking_id),
    );
    await waitFor(() => got.size === 50, { timeoutMs: 10_000, message: `50 queued messages (got ${got.size})` });
    assert.deepEqual([...got].sort(), Array.from({ length: 50 }, (_, i) => `b-${i}`).sort());
  } finally {
    await closeMqtt(sub);
    await broker.close();
  }
});

test('two broker instances on one Redis form one broker; retained messages survive a restart', async () => {
  const a = await startTestBroker({ redisUrl: redis.url, wsPort: null });
  const b = await startTestBroker({ redisUrl: redis.url, wsPort: null });
  let sub: MqttClient | undefined;
  let pub: MqttClient | undefined;
  try {
    sub = await connectMqtt(b.mqttUrl, asService('observer'));
    const seen: string[] = [];
    sub.on('message', (topic) => seen.push(topic));
    await sub.subscribeAsync('albergue/booking/#', { qos: 1 });
    pub = await connectMqtt(a.mqttUrl, asService('booking'));
    await pub.publishAsync('albergue/booking/v1/BookingConfirmed', 'across', { qos: 1, retain: true });
    await waitFor(() => seen.includes('albergue/booking/v1/BookingConfirmed'), { timeoutMs: 5000, message: 'message across instances' });
  } finally {
    await closeMqtt(sub, pub);
    await a.close();
    await b.close();
  }
  const c = await startTestBroker({ redisUrl: redis.url, wsPort: null });
  try {
    const retained = await c.mqtt.retained('albergue/booking/#');
    assert.deepEqual(
      retained.map((m) => [m.topic, m.payload.toString()]),
      [['albergue/booking/v1/BookingConfirmed', 'across']],
    );
  } finally {
    await c.close();
  }
});

test('a persistent session subscribing to several topics in one SUBSCRIBE gets its SUBACK (aedes 1.2 + redis persistence)', async () => {
  const broker = await startTestBroker({ redisUrl: redis.url, wsPort: null });
  let sub: MqttClient | undefined;
  try {
    sub = await connectMqtt(broker.mqttUrl, asService('payment', { clientId: 'albergue-payment-multi-1', clean: false }));
    const topics = [
      'albergue/booking/v1/BookingReserved',
      'albergue/booking/v1/BookingCancelled',
      'albergue/booking/v1/ReservationExpired',
    ];
    let granted: { topic: string; qos: number }[] | undefined;
    let failed: unknown;
    sub.subscribeAsync(topics, { qos: 1 }).then(
      (g) => {
        granted = g;
      },
      (err: unknown) => {
        failed = err;
      },
    );
    await waitFor(() => granted ?? failed, { timeoutMs: 5_000, message: 'SUBACK for a three-topic SUBSCRIBE' });
    assert.equal(failed, undefined);
    assert.deepEqual(
      granted!.map((g) => [g.topic, g.qos]),
      topics.map((t) => [t, 1]),
    );
  } finally {
    await closeMqtt(sub);
    await broker.close();
  }
});
