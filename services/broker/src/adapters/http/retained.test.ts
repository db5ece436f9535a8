// Retained messages listed and cleared per topic over the admin API (issue 9.6), on memory and Redis.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED, BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

for (const mode of ['memory', 'redis'] as const) {
  describe(`retained messages (${mode})`, () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    let broker: RunningBroker;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = async (method: string, path: string): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${broker.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return { status: res.status, body: await res.json() };
    };
    before(async () => {
      if (mode === 'redis') redis = await startRedisServer();
      broker = await startTestBroker({ wsPort: null, ...(redis ? { redisUrl: redis.url } : {}) });
    });
    after(async () => {
      await broker.close();
      await redis?.stop();
    });

    test('a retained poison cleared through the API is not delivered to a new subscriber; other topics keep theirs; live subscribers get no empty message', async () => {
      let booking: MqttClient | undefined;
      let live: MqttClient | undefined;
      let late: MqttClient | undefined;
      try {
        live = await connectMqtt(broker.mqttUrl, asService('observer'));
        const liveSeen: string[] = [];
        live.on('message', (t, p) => liveSeen.push(`${t} ${p.toString()}`));
        await live.subscribeAsync('albergue/booking/#', { qos: 1 });

        booking = await connectMqtt(broker.mqttUrl, asService('booking'));
        await booking.publishAsync(BOOKING_RESERVED_MQTT, '{"poison":true}', { qos: 1, retain: true });
        const keep = JSON.stringify(bookingReserved(5));
        await booking.publishAsync('albergue/booking/v1/BookingCancelled', keep, { qos: 1, retain: true });
        await waitFor(() => liveSeen.length === 2, { timeoutMs: 5000, message: 'live deliveries' });

        const listed = await call('GET', `/api/mqtt/retained?topic=${encodeURIComponent('albergue/booking/#')}`);
        assert.deepEqual((listed.body.messages as { topic: string }[]).map((m) => m.topic).sort(), [
          'albergue.booking.v1.BookingCancelled',
          BOOKING_RESERVED,
        ]);

        assert.equal((await call('DELETE', '/api/mqtt/retained?topic=a/%23/b')).status, 400);
        assert.equal((await call('DELETE', '/api/mqtt/retained')).status, 400);
        const cleared = await call('DELETE', `/api/mqtt/retained?topic=${BOOKING_RESERVED}`);
        assert.equal(cleared.status, 200);
        assert.deepEqual(cleared.body.cleared, [{ topic: BOOKING_RESERVED, mqtt_topic: BOOKING_RESERVED_MQTT }]);
        assert.deepEqual((await call('DELETE', `/api/mqtt/retained?topic=${BOOKING_RESERVED}`)).body.cleared, []);

        late = await connectMqtt(broker.mqttUrl, asService('observer'));
        const lateSeen: string[] = [];
        late.on('message', (t, p) => lateSeen.push(`${t} ${p.toString()}`));
        await late.subscribeAsync('albergue/booking/#', { qos: 1 });
        // The retained message of the other topic arrives; then a marker proves the poison had its chance.
        await waitFor(() => lateSeen.length === 1, { timeoutMs: 5000, message: 'the kept retained message' });
        await booking.publishAsync('albergue/booking/v1/BookingConfirmed', 'marker', { qos: 1 });
        await waitFor(() => lateSeen.some((s) => s.endsWith('marker')), { timeoutMs: 5000, message: 'marker' });
        assert.deepEqual(lateSeen, [`albergue/booking/v1/BookingCancelled ${keep}`, 'albergue/booking/v1/BookingConfirmed marker']);
        await waitFor(() => liveSeen.length === 3, { timeoutMs: 5000, message: 'marker at the live subscriber' });
        assert.deepEqual(
          liveSeen.map((s) => s.split(' ')[0]),
          [BOOKING_RESERVED_MQTT, 'albergue/booking/v1/BookingCancelled', 'albergue/booking/v1/BookingConfirmed'],
          'no empty message from the clear',
        );
      } finally {
        await closeMqtt(booking, live, late);
      }
    });
  });
}
