// A consumer process killed with SIGKILL in the middle of a handler: after the visibility timeout
// another instance handles the message, once, on attempt 2 (the lapsed lease counted).
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BookingReserved } from '@albergue/events';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { declareService } from '../declarations.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { publishAll } from '../ports/publisher.js';
import { toOutgoing } from '../mqtt/outgoing.js';
import { bookingReserved, EffectCounter, startAedes } from '../testing/index.js';
import { redisTestLedger } from '../testing/ledgers.js';
import { createConsumer } from './consumer.js';

const worker = fileURLToPath(new URL('./testdata/hanging-worker.ts', import.meta.url));

test('SIGKILL mid-handler → another instance handles the message after the visibility timeout, effect once', async () => {
  const broker = await startAedes();
  const ledger = await redisTestLedger();
  const namespace = (ledger.ledger as unknown as { conn: { ns: string } }).conn.ns;
  const subscriber = uniqueName('crash');
  const visibilityMs = 1_500;
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', worker], {
    env: {
      ...process.env,
      MQTT_URL: broker.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      LEDGER_NAMESPACE: namespace,
      SUBSCRIBER: subscriber,
      VISIBILITY_MS: String(visibilityMs),
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true });
  const effects = new EffectCounter();
  const attempts: number[] = [];
  const survivor = createConsumer({
    declaration: declareService({
      service: 'payment',
      context: 'payment',
      publishes: [],
      subscribes: [
        {
          event: BookingReserved,
          handler: 'crashOnBookingReserved',
          subscriber,
          policy: { visibilityTimeoutMs: visibilityMs, dedupWindowMs: 600_000 },
        },
      ],
    }),
    subscriber,
    instanceId: 'survivor',
    mqtt: { url: broker.url },
    ...ledger,
  });
  try {
    // The child compiles its TypeScript with tsx first: 13.6 s to "ready" was measured at load average 23.
    await waitFor(() => out.includes('ready'), { timeoutMs: 45_000, message: 'child consumer ready' });
    const e = bookingReserved('bk-crash');
    await publishAll(publisher, [toOutgoing(e)]);
    await waitFor(() => out.includes(`handling ${e.event_id} attempt 1`), { message: 'child handling the message' });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const killedAt = Date.now();
    survivor.on(BookingReserved, 'crashOnBookingReserved', (ctx) => {
      attempts.push(ctx.attempt);
      effects.add(ctx.event.event_id);
    });
    await survivor.start();
    await waitFor(() => effects.count(e.event_id) === 1, { timeoutMs: visibilityMs + 5_000, message: 'handled by the surviving instance' });
    await waitFor(async () => ledger.ledger.isProcessed(subscriber, BookingReserved.topic, e.event_id), { message: 'acked' });
    assert.ok(Date.now() - killedAt >= visibilityMs - 1_000, 'not before the lease lapsed');
    assert.deepEqual(attempts, [2]);
    assert.equal(effects.total, 1);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await survivor.close();
    await publisher.close();
    await ledger.close();
    await broker.close();
  }
});
