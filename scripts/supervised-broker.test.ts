// `start:services` with a child killed: the broker process (on its own Redis with AOF) is SIGKILLed,
// the supervisor starts it again by itself, clients reconnect, and persistent sessions get every
// message — those published before the kill, while it was down (buffered by the client) and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { Supervisor } from './supervisor.js';
import { asService, closeMqtt, connectMqtt, startRedisServer } from '../services/broker/src/testing/harness.js';

const root = new URL('..', import.meta.url).pathname;
const TOPIC = 'albergue/booking/v1/BookingReserved';

test('a killed broker child is restarted by the supervisor and nothing acknowledged is lost', async () => {
  const redis = await startRedisServer({ appendonly: true });
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const log: string[] = [];
  const sup = new Supervisor({ initialBackoffMs: 200, log: (m) => log.push(m), output: () => undefined });
  const clients: (MqttClient | undefined)[] = [];
  const ready = async () => {
    try {
      return (await fetch(`http://127.0.0.1:${httpPort}/health`, { signal: AbortSignal.timeout(2_000) })).status === 200;
    } catch {
      return false;
    }
  };
  try {
    sup.start({
      name: 'broker',
      command: process.execPath,
      args: ['--conditions=development', '--import', 'tsx', 'scripts/broker.ts'],
      cwd: root,
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        BROKER_HOST: '127.0.0.1',
        BROKER_MQTT_PORT: String(mqttPort),
        BROKER_HTTP_PORT: String(httpPort),
        BROKER_WS_PORT: 'off',
      },
    });
    await waitFor(ready, { timeoutMs: 60_000, message: 'the broker child to be ready' });
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const got = new Set<number>();
    const sub = await connectMqtt(
      url,
      asService('observer', { clientId: uniqueName('albergue-observer-sup'), clean: false, reconnectPeriod: 200 }),
      (_t, p) => got.add((JSON.parse(p.toString()) as { seq: number }).seq),
    );
    clients.push(sub);
    await sub.subscribeAsync('albergue/#', { qos: 1 });
    const pub = await connectMqtt(url, asService('booking', { clientId: uniqueName('albergue-booking-sup'), reconnectPeriod: 200 }));
    clients.push(pub);
    const publish = (from: number, to: number) =>
      Promise.all(Array.from({ length: to - from }, (_, i) => pub.publishAsync(TOPIC, JSON.stringify({ seq: from + i }), { qos: 1 })));

    await publish(0, 200);
    await waitFor(() => got.size === 200, { timeoutMs: 10_000, message: `the first 200 (${got.size})` });
    const first = sup.pids().broker!;
    process.kill(first, 'SIGKILL');
    // Published while the broker is down: mqtt.js keeps them until it has reconnected and they are acked.
    const whileDown = publish(200, 300);
    await waitFor(async () => sup.pids().broker !== undefined && sup.pids().broker !== first && (await ready()), {
      timeoutMs: 60_000,
      message: 'the broker to be restarted and ready',
    });
    await whileDown;
    await publish(300, 400);
    await waitFor(() => got.size === 400, { timeoutMs: 20_000, message: `all 400 at the persistent subscriber (${got.size})` });
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      Array.from({ length: 400 }, (_, i) => i),
    );
    assert.equal(sup.restartsOf('broker'), 1);
    assert.match(log.join('\n'), /broker exited \(SIGKILL\) after [\d.]+ s; restarting in 200 ms \(restart 1\)/);
  } finally {
    await closeMqtt(...clients);
    await sup.stop();
    await redis.stop();
  }
});
