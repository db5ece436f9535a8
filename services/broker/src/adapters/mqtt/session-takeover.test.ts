// Client ids belong to accounts (issue 9.2): nobody but payment may use albergue-payment-…, so no
// other account can drain or discard payment's persistent session. Memory and Redis persistence.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import { BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

const refusalCount = async (broker: RunningBroker, kind: string): Promise<number> => {
  const text = await (await fetch(`${broker.httpUrl}/metrics`)).text();
  const m = new RegExp(`^mqtt_refusals_total\\{kind="${kind}"[^}]*\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

for (const mode of ['memory', 'redis'] as const) {
  describe(`client ids belong to accounts (${mode} persistence)`, () => {
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    let broker: RunningBroker;
    before(async () => {
      if (mode === 'redis') redis = await startRedisServer();
      broker = await startTestBroker({ wsPort: null, ...(redis ? { redisUrl: redis.url } : {}) });
    });
    after(async () => {
      await broker.close();
      await redis?.stop();
    });

    test("the observer and another service are refused as albergue-payment-0 while payment's queued messages all arrive", async () => {
      const session = { clientId: 'albergue-payment-0', clean: false };
      const N = 40;
      let payment: MqttClient | undefined;
      let booking: MqttClient | undefined;
      try {
        payment = await connectMqtt(broker.mqttUrl, asService('payment', session));
        await payment.subscribeAsync(BOOKING_RESERVED_MQTT, { qos: 1 });
        await closeMqtt(payment);

        booking = await connectMqtt(broker.mqttUrl, asService('booking'));
        for (let i = 0; i < N / 2; i++) await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(i)), { qos: 1 });

        const before = await refusalCount(broker, 'client_id');
        const stolen: string[] = [];
        // The attacker's spellings: resume the session (clean=false) to drain it, or clean=true to discard it.
        const attempts = [
          asService('observer', { clientId: 'albergue-payment-0', clean: false }),
          asService('location', { clientId: 'albergue-payment-0', clean: true }),
          asService('booking', { clientId: 'albergue-payment-0', clean: false }),
          asService('observer', { clientId: 'albergue-payment-', clean: false }),
          asService('location', { clientId: 'albergue-payment-outbox-0', clean: true }),
        ];
        for (const options of attempts) {
          await assert.rejects(
            connectMqtt(broker.mqttUrl, options, (_t, p) => stolen.push(p.toString())),
            /identifier rejected/i,
            `${String(options.username)} as ${String(options.clientId)}`,
          );
        }
        // A client id outside every account's prefix is refused too (mqtt.js would pick mqttjs_…).
        await assert.rejects(connectMqtt(broker.mqttUrl, asService('payment', { clientId: 'mqttjs_0123' })), /identifier rejected/i);
        assert.equal(await refusalCount(broker, 'client_id'), before + attempts.length + 1);
        assert.deepEqual(stolen, []);

        for (let i = N / 2; i < N; i++) await booking.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify(bookingReserved(i)), { qos: 1 });
        const got = new Set<string>();
        payment = await connectMqtt(broker.mqttUrl, asService('payment', session), (_t, p) =>
          got.add((JSON.parse(p.toString()) as { payload: { booking_id: string } }).payload.booking_id),
        );
        await waitFor(() => got.size === N, { timeoutMs: 10_000, message: `payment's ${N} queued messages (got ${got.size})` });
        assert.deepEqual([...got].sort(), Array.from({ length: N }, (_, i) => `b-${i}`).sort());
      } finally {
        await closeMqtt(payment, booking);
      }
    });

    test('a service may use any id under its own prefix, and an empty id gets a broker-made one', async () => {
      const ok = await connectMqtt(broker.mqttUrl, asService('payment', { clientId: 'albergue-payment-outbox-7' }));
      const generated = await connectMqtt(broker.mqttUrl, asService('observer', { clientId: '', clean: true }));
      assert.equal(ok.connected && generated.connected, true);
      await closeMqtt(ok, generated);
    });
  });
}

test("anonymous clients (when allowed) have a prefix of their own and cannot use the observer's", async () => {
  const open = await startTestBroker({ allowAnonymous: true, wsPort: null, adminToken: ADMIN_TOKEN });
  try {
    await assert.rejects(connectMqtt(open.mqttUrl, { clientId: 'albergue-observer-0' }), /identifier rejected/i);
    await assert.rejects(connectMqtt(open.mqttUrl, { clientId: 'albergue-payment-0' }), /identifier rejected/i);
    const anon = await connectMqtt(open.mqttUrl, { clientId: 'albergue-anonymous-tool' });
    await closeMqtt(anon);
  } finally {
    await open.close();
  }
});
