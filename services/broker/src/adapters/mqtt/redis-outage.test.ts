// Issue 10 item 2: the broker on Redis survives Redis going away under load — it does not die, says
// why it is not ready, comes back by itself when Redis returns, and every message it acknowledged
// reaches every live subscriber (duplicates allowed, counted once by id as a consumer would).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startRedisServer, startTestBroker } from '../../testing/harness.js';
import type { TestRedis } from '../../testing/harness.js';
import { BOOKING_RESERVED_MQTT, bookingReserved } from '../../testing/fixtures.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedisServer({ appendonly: true });
});
after(async () => {
  await redis.stop();
});

interface Receiver {
  readonly name: string;
  readonly client: MqttClient;
  /** Distinct ids received (the effect), and every delivery (to count duplicates). */
  readonly ids: Set<number>;
  deliveries: number;
  connects: number;
}

async function receiver(url: string, name: string, account: string, filter: string, persistent: boolean): Promise<Receiver> {
  const r = { name, ids: new Set<number>(), deliveries: 0, connects: 0 } as Omit<Receiver, 'client'> & { client?: MqttClient };
  const client = await connectMqtt(
    url,
    asService(account, { clientId: uniqueName(`albergue-${account}-${name}`), clean: !persistent, reconnectPeriod: 200 }),
    (_t, payload) => {
      r.deliveries++;
      r.ids.add((JSON.parse(payload.toString()) as { seq: number }).seq);
    },
  );
  r.client = client;
  client.on('connect', () => {
    r.connects++;
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return r as Receiver;
}

async function health(url: string): Promise<{ status: number; body: { status: string; redis: string; reason?: string } }> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as { status: string; redis: string; reason?: string } };
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`Redis (AOF) stopped with ${signal} under load and restarted: the broker stays up, reports why, recovers by itself, every acked message arrives`, async (t) => {
    const broker = await startTestBroker({ redisUrl: redis.url, wsPort: null });
    const clients: (MqttClient | undefined)[] = [];
    let publishing = true;
    try {
      const receivers = [
        await receiver(broker.mqttUrl, 'wild-persist', 'observer', 'albergue/#', true),
        await receiver(broker.mqttUrl, 'wild-clean', 'observer', 'albergue/#', false),
        await receiver(broker.mqttUrl, 'exact-persist', 'payment', BOOKING_RESERVED_MQTT, true),
      ];
      clients.push(...receivers.map((r) => r.client));
      const pub = await connectMqtt(
        broker.mqttUrl,
        asService('booking', { clientId: uniqueName('albergue-booking-pub'), reconnectPeriod: 200 }),
      );
      clients.push(pub);

      // Continuous load: 20 QoS 1 publishes in flight; `acked` = what the broker acknowledged.
      const acked = new Set<number>();
      let next = 0;
      const worker = async () => {
        while (publishing && next < 20_000) {
          const seq = next++;
          await pub.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify({ seq }), { qos: 1 });
          acked.add(seq);
        }
      };
      const load = Promise.all(Array.from({ length: 20 }, worker));

      await waitFor(() => acked.size >= 300, { timeoutMs: 15_000, message: 'load before the outage' });
      const ackedAtKill = acked.size;
      await redis.kill(signal);
      const down = await waitFor(
        async () => {
          const h = await health(broker.httpUrl);
          return h.status === 503 ? h : undefined;
        },
        { timeoutMs: 10_000, message: '/health to report the outage' },
      );
      assert.equal(down.body.redis, 'down');
      assert.match(down.body.reason ?? '', /Redis/);

      // Publishing over HTTP while Redis is away is refused, not acknowledged and lost.
      const refused = await fetch(`${broker.httpUrl}/api/mqtt/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(bookingReserved(1)),
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(refused.status, 503);

      const ackedAtRestart = acked.size;
      await redis.restart();
      await waitFor(async () => (await health(broker.httpUrl)).status === 200, { timeoutMs: 20_000, message: '/health to be ready again' });
      await waitFor(() => acked.size >= ackedAtRestart + 300, {
        timeoutMs: 20_000,
        message: `load after the outage (${acked.size} acked)`,
      });
      publishing = false;
      await load;

      const missing = (r: Receiver) => [...acked].filter((s) => !r.ids.has(s));
      await waitFor(() => receivers.every((r) => missing(r).length === 0), {
        timeoutMs: 20_000,
        message: `every acked message at every subscriber — ${receivers.map((r) => `${r.name}: ${r.ids.size}/${acked.size}, missing ${missing(r).slice(0, 5).join(',')}`).join('; ')}`,
      });
      for (const r of receivers) assert.deepEqual(missing(r), [], r.name);
      t.diagnostic(
        `acked ${acked.size} (${ackedAtRestart - ackedAtKill} while Redis was away); ${receivers.map((r) => `${r.name}: ${r.ids.size} distinct, ${r.deliveries - r.ids.size} duplicates, ${r.connects} reconnects`).join('; ')}`,
      );
      // Only the messages published before shutdown count as "acked"; nothing else may appear.
      for (const r of receivers)
        assert.ok(
          [...r.ids].every((s) => s < next),
          `${r.name} got an id nobody published`,
        );
    } finally {
      publishing = false;
      await closeMqtt(...clients);
      await broker.close();
    }
  });
}

test('a broker stopped while Redis is away stops within a bound (no QUIT waiting for Redis)', async () => {
  const own = await startRedisServer();
  const broker = await startTestBroker({ redisUrl: own.url, wsPort: null });
  const clients: (MqttClient | undefined)[] = [];
  try {
    clients.push((await receiver(broker.mqttUrl, 'persist', 'observer', 'albergue/#', true)).client);
    const pub = await connectMqtt(broker.mqttUrl, asService('booking', { clientId: uniqueName('albergue-booking-pub') }));
    clients.push(pub);
    await pub.publishAsync(BOOKING_RESERVED_MQTT, JSON.stringify({ seq: 0 }), { qos: 1 });
    await own.kill('SIGKILL');
    await waitFor(async () => (await health(broker.httpUrl)).status === 503, {
      timeoutMs: 10_000,
      message: '/health to report the outage',
    });
    // Something queued for Redis while it is away.
    pub.publish(BOOKING_RESERVED_MQTT, JSON.stringify({ seq: 1 }), { qos: 1 });
    const started = Date.now();
    await closeMqtt(...clients);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      broker.close(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('broker.close() did not finish within 5 s')), 5_000);
      }),
    ]);
    clearTimeout(timer);
    assert.ok(Date.now() - started < 5_000);
  } finally {
    await closeMqtt(...clients);
    await broker.close();
    await own.stop();
  }
});
