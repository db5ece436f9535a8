// Raw mqtt.js QoS 1 publish→subscribe vs the full reliable consumer (MqttSubscriber → Redis ledger
// with dedup and breaker → Router → ack), same messages, same broker, one run.
//
// The load generator (one mqtt.js publisher, window of 100 QoS 1 publishes in flight) and the Aedes
// broker run in worker threads, as they would be other processes in production; the main thread is
// the consumer under test: a plain mqtt.js subscriber (raw) or createConsumer (reliable). Rounds
// alternate raw and reliable; each side keeps its best round (the machines here are shared and noisy).
// Bounded: BENCH_MESSAGES (default 20,000) × ~1 KB per run, each run capped at BENCH_CAP_MS (60 s).
// Usage: npx tsx bench/messaging.ts   (REDIS_URL, default redis://127.0.0.1:6379)
//   BENCH_ROUNDS (default 2), BENCH_ONLY=raw|reliable, BENCH_BROKERS=aedes,mosquitto
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { BookingReserved, toMqttTopic } from '@albergue/events';
import {
  connectMqtt,
  createConsumer,
  declareService,
  endMqtt,
  MqttPublisher,
  publishAll,
  RedisDeliveryLedger,
  toOutgoing,
} from '@albergue/messaging';
import type { OutgoingMessage } from '@albergue/messaging';
import { bookingReserved, brokerKinds, deleteNamespace, startAedes, startBroker } from '@albergue/messaging/testing';
import type { BrokerKind, TestBroker } from '@albergue/messaging/testing';
import { reportResult } from './lib/report.js';

const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const CAP_MS = Number(process.env.BENCH_CAP_MS ?? 60_000);
const WINDOW = 100;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Wall-clock milliseconds comparable across threads (performance.now() is per thread). */
const now = () => performance.timeOrigin + performance.now();

type ToWorker = { cmd: 'publish'; url: string; clientId: string; messages: OutgoingMessage[] } | { cmd: 'close' };
type FromWorker =
  { cmd: 'aedes'; url: string } | { cmd: 'published'; sentAt: Float64Array } | { cmd: 'closed' } | { cmd: 'error'; message: string };

// ---- worker thread: the Aedes broker, or the load generator ----------------------------------

async function workerMain(role: 'aedes' | 'publisher'): Promise<void> {
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  if (role === 'aedes') {
    const broker = await startAedes();
    port.on('message', (m: ToWorker) => {
      if (m.cmd === 'close') void broker.close().then(() => send({ cmd: 'closed' }));
    });
    send({ cmd: 'aedes', url: broker.url });
    return;
  }
  port.on('message', (m: ToWorker) => {
    if (m.cmd !== 'publish') return;
    void (async () => {
      const pub = await MqttPublisher.connect(m.url, { clientId: m.clientId, clean: true, window: WINDOW });
      const sentAt = new Float64Array(m.messages.length);
      let next = 0;
      const lane = async () => {
        while (next < m.messages.length) {
          const i = next++;
          sentAt[i] = now();
          await publishAll(pub, [m.messages[i]!]);
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, lane));
      await pub.close();
      send({ cmd: 'published', sentAt });
    })().catch((err: unknown) => send({ cmd: 'error', message: String(err) }));
  });
}

// ---- main thread: the consumer under test ----------------------------------------------------

function spawnWorker(role: 'aedes' | 'publisher'): Worker {
  // A worker thread does not inherit the tsx loader hooks: register them, then load this file.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return new Worker(boot, { eval: true, workerData: { role } });
}

function next(w: Worker, cmd: FromWorker['cmd']): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.cmd === 'error') reject(new Error(m.message));
      else if (m.cmd === cmd) resolve(m);
      else return;
      w.off('message', onMessage);
    };
    w.on('message', onMessage);
    w.once('error', reject);
  });
}

interface Result {
  readonly delivered: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

function summarise(ids: string[], sentAt: Float64Array, doneAt: Map<string, number>): Result {
  const lat: number[] = [];
  let first = Infinity;
  let last = -Infinity;
  ids.forEach((id, i) => {
    const sent = sentAt[i]!;
    first = Math.min(first, sent);
    const done = doneAt.get(id);
    if (done === undefined) return;
    last = Math.max(last, done);
    lat.push(done - sent);
  });
  lat.sort((a, b) => a - b);
  const seconds = (last - first) / 1000;
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { delivered: lat.length, seconds, perSecond: lat.length / seconds, p50: q(0.5), p99: q(0.99) };
}

async function until(cond: () => boolean, capMs: number): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/** Publishes N fresh messages from the load-generator thread; resolves with their send times once all are PUBACKed. */
function load(url: string, clientId: string): { ids: string[]; published: Promise<Float64Array> } {
  const events = Array.from({ length: N }, (_, i) => bookingReserved(`bk-${i}`, {}, 1024));
  const messages = events.map(toOutgoing);
  const w = spawnWorker('publisher');
  const done = next(w, 'published');
  w.postMessage({ cmd: 'publish', url, clientId, messages } satisfies ToWorker);
  const published = done.then(async (m) => {
    await w.terminate();
    return (m as Extract<FromWorker, { cmd: 'published' }>).sentAt;
  });
  return { ids: events.map((e) => e.event_id), published };
}

async function raw(broker: TestBroker, run: string): Promise<Result> {
  const doneAt = new Map<string, number>();
  const sub = await connectMqtt({ url: broker.url, clientId: `bench-raw-sub-${run}`, clean: true });
  sub.on('message', (_t, payload) => {
    // Same work as the consumer's minimum: read the event_id.
    const id = (JSON.parse(payload.toString()) as { event_id: string }).event_id;
    doneAt.set(id, now());
  });
  await sub.subscribeAsync(toMqttTopic(BookingReserved.topic), { qos: 1 });
  const { ids, published } = load(broker.url, `bench-raw-pub-${run}`);
  const sentAt = await published;
  await until(() => doneAt.size >= N, CAP_MS);
  await endMqtt(sub);
  return summarise(ids, sentAt, doneAt);
}

async function reliable(broker: TestBroker, run: string): Promise<Result> {
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
    doneAt.set(ctx.event.event_id, now());
  });
  try {
    await consumer.start();
    const { ids, published } = load(broker.url, `bench-rel-pub-${run}`);
    const sentAt = await published;
    await until(() => doneAt.size >= N, CAP_MS);
    return summarise(ids, sentAt, doneAt);
  } finally {
    await consumer.close();
    const depth = Object.values(await ledger.depth(subscriber)).reduce((a, b) => a + b, 0);
    if (depth > 0) console.log(`  (reliable: ${depth} messages still in the ledger at the end)`);
    await ledger.close();
    await deleteNamespace(REDIS_URL, namespace);
  }
}

/** Aedes in a worker thread (a broker is another process in production); Mosquitto is one already. */
async function brokerFor(kind: BrokerKind): Promise<TestBroker> {
  if (kind !== 'aedes') return startBroker(kind);
  const w = spawnWorker('aedes');
  const { url } = (await next(w, 'aedes')) as Extract<FromWorker, { cmd: 'aedes' }>;
  return {
    name: 'aedes',
    url,
    port: Number(new URL(url).port),
    async close() {
      const closed = next(w, 'closed');
      w.postMessage({ cmd: 'close' } satisfies ToWorker);
      await closed;
      await w.terminate();
    },
  };
}

const fmt = (r: Result) =>
  `${Math.round(r.perSecond).toLocaleString('en').padStart(7)} msg/s  p50 ${r.p50.toFixed(1).padStart(7)} ms  p99 ${r.p99.toFixed(1).padStart(7)} ms  (${r.delivered} in ${r.seconds.toFixed(2)} s)`;

async function main(): Promise<void> {
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
  const only = process.env.BENCH_ONLY ?? '';
  const brokers = (process.env.BENCH_BROKERS ?? '').split(',').filter((b) => b !== '');
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  console.log(
    `messaging bench: ${N} × 1 KB BookingReserved, QoS 1, publish window ${WINDOW} (publisher and Aedes in worker threads), ${rounds} round(s) alternating, best kept, cap ${CAP_MS / 1000} s per run`,
  );
  const summary: string[] = [];
  const results: (() => void)[] = [];
  for (const kind of brokerKinds().filter((k) => brokers.length === 0 || brokers.includes(k))) {
    const broker = await brokerFor(kind);
    let bestRaw: Result | undefined;
    let bestRel: Result | undefined;
    try {
      for (let i = 0; i < rounds; i++) {
        if (only !== 'reliable') {
          const r = await raw(broker, `${stamp}-${kind}-${i}`);
          console.log(`  ${kind.padEnd(9)} round ${i + 1} raw       ${fmt(r)}`);
          if (!bestRaw || r.perSecond > bestRaw.perSecond) bestRaw = r;
        }
        if (only !== 'raw') {
          const c = await reliable(broker, `${stamp}-${kind}-${i}`);
          console.log(`  ${kind.padEnd(9)} round ${i + 1} reliable  ${fmt(c)}`);
          if (!bestRel || c.perSecond > bestRel.perSecond) bestRel = c;
        }
      }
    } finally {
      await broker.close();
    }
    if (bestRaw) summary.push(`${kind.padEnd(9)} raw mqtt.js       ${fmt(bestRaw)}`);
    if (bestRel) summary.push(`${kind.padEnd(9)} reliable (redis)  ${fmt(bestRel)}`);
    if (bestRaw && bestRel) {
      const incomplete = bestRaw.delivered < N || bestRel.delivered < N ? '  (INCOMPLETE: cap reached)' : '';
      summary.push(
        `${kind.padEnd(9)} ratio reliable/raw throughput ${((bestRel.perSecond / bestRaw.perSecond) * 100).toFixed(0)}%${incomplete}`,
      );
      results.push(() =>
        reportResult({
          id: `P1-reliable-consume-${kind}`,
          ratio: bestRel.perSecond / bestRaw.perSecond,
          goal: '>= 0.8',
          ...(incomplete ? { met: false } : {}),
          measured: bestRel.perSecond,
          baseline: bestRaw.perSecond,
          detail: `msg/s reliable vs raw QoS 1${incomplete}`,
        }),
      );
    }
  }
  console.log(summary.join('\n'));
  for (const r of results) r();
}

if (isMainThread) await main();
else await workerMain((workerData as { role: 'aedes' | 'publisher' }).role);
