// A consumer process for the crash test: handles BookingReserved by announcing the event on stdout
// and then hanging (the parent SIGKILLs it mid-handler). Env: MQTT_URL, REDIS_URL, LEDGER_NAMESPACE,
// SUBSCRIBER, VISIBILITY_MS.
import { BookingReserved } from '@albergue/events';
import { RedisDeliveryLedger } from '../../ledger/redis-ledger.js';
import { declareService } from '../../declarations.js';
import { createConsumer } from '../consumer.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const subscriber = env('SUBSCRIBER');
const visibilityTimeoutMs = Number(env('VISIBILITY_MS'));
const ledger = new RedisDeliveryLedger({ url: env('REDIS_URL'), namespace: env('LEDGER_NAMESPACE') });
const consumer = createConsumer({
  declaration: declareService({
    service: 'payment',
    context: 'payment',
    publishes: [],
    subscribes: [
      { event: BookingReserved, handler: 'crashOnBookingReserved', subscriber, policy: { visibilityTimeoutMs, dedupWindowMs: 600_000 } },
    ],
  }),
  subscriber,
  instanceId: 'child',
  mqtt: { url: env('MQTT_URL') },
  ledger,
  deadLetters: ledger.deadLetters,
});
consumer.on(
  BookingReserved,
  'crashOnBookingReserved',
  async (ctx) => {
    process.stdout.write(`handling ${ctx.event.event_id} attempt ${ctx.attempt}\n`);
    await new Promise(() => undefined);
  },
  { timeoutMs: 600_000 },
);
await consumer.start();
process.stdout.write('ready\n');
