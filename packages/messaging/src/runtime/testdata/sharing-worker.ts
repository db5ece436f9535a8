// One instance of a consumer group for the work-sharing test and bench (run as a child process, so it
// can be SIGKILLed). Its handler does what a real idempotent handler does: the effect is a Redis
// `SET NX` on the event_id (a repeat finds it and changes nothing), then some simulated I/O.
// Per-instance counts: `<EFFECTS>:won` (effects made) and `<EFFECTS>:repeat` (already made).
// Prints `ready` once subscribed; on SIGTERM prints `stats {json}` (transport stats and ledger calls)
// and exits. Env: MQTT_URL, REDIS_URL, LEDGER_NAMESPACE, SUBSCRIBER, INSTANCE_ID, MODE
// (fanout|shared), VISIBILITY_MS, EFFECTS, HANDLER_MS (default 2), CONCURRENCY (default 8).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { BookingReserved } from '@albergue/events';
import { RedisDeliveryLedger } from '../../ledger/redis-ledger.js';
import type { Delivery, IncomingMessage, RecordOutcome } from '../../ports/ledger.js';
import { declareService } from '../../declarations.js';
import type { SubscriptionMode } from '../../mqtt/subscription-mode.js';
import { createConsumer } from '../consumer.js';

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
};

/** Counts the ledger round trips this instance makes (each method is one script call on Redis). */
class CountingLedger extends RedisDeliveryLedger {
  readonly calls = { record: 0, recordMessages: 0, lease: 0, emptyLease: 0, leased: 0, ack: 0 };

  override async record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
    this.calls.record++;
    this.calls.recordMessages += messages.length;
    return super.record(subscriber, messages);
  }

  override async lease(subscriber: string, max: number): Promise<Delivery[]> {
    this.calls.lease++;
    const got = await super.lease(subscriber, max);
    if (got.length === 0) this.calls.emptyLease++;
    this.calls.leased += got.length;
    return got;
  }

  override async ackMany(deliveries: readonly Delivery[]): Promise<('acked' | 'stale')[]> {
    this.calls.ack++;
    return super.ackMany(deliveries);
  }
}

const EFFECT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return 1
end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return 0`;

const instance = env('INSTANCE_ID');
const subscriber = env('SUBSCRIBER');
const effects = env('EFFECTS');
const handlerMs = Number(env('HANDLER_MS', '2'));
const visibilityTimeoutMs = Number(env('VISIBILITY_MS'));
const redis = new Redis(env('REDIS_URL'));
const ledger = new CountingLedger({ url: env('REDIS_URL'), namespace: env('LEDGER_NAMESPACE') });
const consumer = createConsumer({
  declaration: declareService({
    service: 'payment',
    context: 'payment',
    publishes: [],
    subscribes: [
      {
        event: BookingReserved,
        handler: 'shareBookingReserved',
        subscriber,
        policy: {
          visibilityTimeoutMs,
          dedupWindowMs: 600_000,
          maxAttempts: 10,
          backoff: { initialMs: 50, maxMs: 500, multiplier: 2, jitter: 0.2 },
        },
      },
    ],
  }),
  subscriber,
  instanceId: instance,
  subscriptionMode: env('MODE') as SubscriptionMode,
  mqtt: { url: env('MQTT_URL'), protocolVersion: 'auto' },
  ledger,
  deadLetters: ledger.deadLetters,
  worker: { concurrency: Number(env('CONCURRENCY', '8')) },
});
consumer.on(BookingReserved, 'shareBookingReserved', async (ctx) => {
  await redis.eval(EFFECT, 3, `${effects}:effect:${ctx.event.event_id}`, `${effects}:won`, `${effects}:repeat`, instance);
  if (handlerMs > 0) await sleep(handlerMs);
});
process.once('SIGTERM', () => {
  void (async () => {
    await consumer.close();
    process.stdout.write(`stats ${JSON.stringify({ instance, transport: consumer.transport.stats, ledger: ledger.calls })}\n`);
    await ledger.close();
    redis.disconnect();
    process.exit(0);
  })();
});
await consumer.start();
process.stdout.write('ready\n');
