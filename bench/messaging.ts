// Raw mqtt.js QoS 1 publish→subscribe vs the full reliable consumer (MqttSubscriber → Redis ledger
// with dedup and breaker → Router → ack), same messages, same broker, one run.
// Bounded: BENCH_MESSAGES (default 20,000) × ~1 KB per run, each run capped at BENCH_CAP_MS (60 s).
// Usage: npx tsx bench/messaging.ts   (REDIS_URL, default redis://127.0.0.1:6379)
import { BookingReserved, toMqttTopic } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import { connectMqtt, createConsumer, declareService, endMqtt, MqttPublisher, RedisDeliveryLedger, toOutgoing } from '@albergue/messaging';
import type { OutgoingMessage } from '@albergue/messaging';
import { bookingReserved, brokerKinds, deleteNamespace, startBroker } from '@albergue/messaging/testing';
import type { TestBroker } from '@albergue/messaging/testing';

const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const CAP_MS = Number(process.env.BENCH_CAP_MS ?? 60_000);
const WINDOW = 100;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Result {
  readonly delivered: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

function messages(): { out: OutgoingMessage[]; ids: string[] } {
  const events: EventEnvelope[] = Array.from({ length: N }, (_, i) => bookingReserved(`bk-${i}`, {}, 1024));
  return { out: events.map(toOutgoing), ids: events.map((e) => e.event_id) };
}

function summarise(sentAt: Map<string, number>, doneAt: Map<string, number>, start: number): Result {
  const lat = [...doneAt].map(([id, t]) => t - (sentAt.get(id) ?? t)).sort((a, b) => a - b);
  const end = Math.max(start, ...doneAt.values());
  const seconds = (end - start) / 1000;
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { delivered: doneAt.size, seconds, perSecond: doneAt.size / seconds, p50: q(0.5), p99: q(0.99) };
}

async function until(cond: () => boolean, capMs: number): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/** Publishes every message, tracking send time per event_id. */
async function publishAll(pub: MqttPublisher, out: OutgoingMessage[], sentAt: Map<string, number>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < out.length) {
      const m = out[next++]!;
      sentAt.set(m.eventId, performance.now());
      await pub.publish(m);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

async function raw(broker: TestBroker, run: string): Promise<Result> {
  const { out } = messages();
  const sentAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const sub = await connectMqtt({ url: broker.url, clientId: `bench-raw-sub-${run}`, clean: true });
  sub.on('message', (_t, payload) => {
    // Same work as the consumer's minimum: read the event_id.
    const id = (JSON.parse(payload.toString()) as { event_id: string }).event_id;
    doneAt.set(id, performance.now());
  });
  await sub.subscribeAsync(toMqttTopic(BookingReserved.topic), { qos: 1 });
  const pub = await MqttPublisher.connect({ url: broker.url, clientId: `bench-raw-pub-${run}`, clean: true }, { service: 'bench' });
  const start = performance.now();
  await publishAll(pub, out, sentAt);
  await until(() => doneAt.size >= N, CAP_MS);
  const r = summarise(sentAt, doneAt, start);
  await pub.close();
  await endMqtt(sub);
  return r;
}

async function reliable(broker: TestBroker, run: string): Promise<Result> {
  const { out } = messages();
  const sentAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const namespace = `bench_${run}:`;
  const ledger = new RedisDeliveryLedger({ url: REDIS_URL, namespace });
  const subscriber = 'bench';
  const declaration = declareService({
    service: 'bench',
    context: 'payment',
    publishes: [],
    subscribes: [{ event: BookingReserved, handler: 'benchOnBookingReserved' }],
  });
  const consumer = createConsumer({
    declaration,
    subscriber,
    mqtt: { url: broker.url, clientId: `bench-rel-sub-${run}` },
    ledger,
    deadLetters: ledger.deadLetters,
    breakers: ledger.breakers,
    worker: { concurrency: 256 },
  });
  consumer.on(BookingReserved, 'benchOnBookingReserved', (ctx) => {
    doneAt.set(ctx.event.event_id, performance.now());
  });
  await consumer.start();
  const pub = await MqttPublisher.connect({ url: broker.url, clientId: `bench-rel-pub-${run}`, clean: true }, { service: 'bench' });
  const start = performance.now();
  await publishAll(pub, out, sentAt);
  await until(() => doneAt.size >= N, CAP_MS);
  const r = summarise(sentAt, doneAt, start);
  await pub.close();
  await consumer.close();
  const depth = Object.values(await ledger.depth(subscriber)).reduce((a, b) => a + b, 0);
  await ledger.close();
  await deleteNamespace(REDIS_URL, namespace);
  if (depth > 0) console.log(`  (reliable: ${depth} messages still in the ledger at the end)`);
  return r;
}

const fmt = (r: Result) =>
  `${r.delivered.toString().padStart(6)} msgs  ${r.seconds.toFixed(2).padStart(6)} s  ${Math.round(r.perSecond).toString().padStart(7)} msg/s  p50 ${r.p50.toFixed(1).padStart(7)} ms  p99 ${r.p99.toFixed(1).padStart(7)} ms`;

const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
console.log(`messaging bench: ${N} × 1 KB BookingReserved, QoS 1, publish window ${WINDOW}, cap ${CAP_MS / 1000} s per run`);
for (const kind of brokerKinds()) {
  const broker = await startBroker(kind);
  try {
    const r = await raw(broker, `${stamp}-${kind}`);
    const c = await reliable(broker, `${stamp}-${kind}`);
    console.log(`${kind.padEnd(10)} raw mqtt.js      ${fmt(r)}`);
    console.log(`${kind.padEnd(10)} reliable (redis) ${fmt(c)}`);
    console.log(`${kind.padEnd(10)} ratio reliable/raw throughput ${(c.perSecond / r.perSecond * 100).toFixed(0)}%${c.delivered < N || r.delivered < N ? '  (INCOMPLETE: cap reached)' : ''}`);
  } finally {
    await broker.close();
  }
}
