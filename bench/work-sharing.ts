// Work sharing between instances of one consumer group: fanout (every instance receives and records
// every message; the ledger dedups) vs shared (MQTT 5 shared subscriptions on Mosquitto; each message
// reaches one instance), with 1, 2 and 4 instances as separate processes on one Redis ledger.
// Figures per configuration: messages received per instance, ledger calls per message (record, lease
// and ack round trips, summed over instances), effects per instance, and throughput as a ratio of the
// 1-instance fanout run of the same round. Rounds alternate the configurations; each keeps its best.
// Bounded: BENCH_MESSAGES (default 3,000) per run, each run capped at BENCH_CAP_MS (120 s).
// Usage: npx tsx --conditions=development bench/work-sharing.ts   (REDIS_URL; BENCH_ROUNDS, default 1)
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MqttPublisher, publishAll, RedisDeliveryLedger, toOutgoing } from '@albergue/messaging';
import { bookingReserved, deleteNamespace, startMosquitto } from '@albergue/messaging/testing';
import { waitFor } from '@albergue/platform/testing';

const N = Number(process.env.BENCH_MESSAGES ?? 3_000);
const CAP_MS = Number(process.env.BENCH_CAP_MS ?? 120_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const workerPath = fileURLToPath(new URL('../packages/messaging/src/runtime/testdata/sharing-worker.ts', import.meta.url));

interface Stats {
  instance: string;
  transport: { received: number; recorded: number; duplicates: number };
  ledger: { record: number; recordMessages: number; lease: number; emptyLease: number; leased: number; ack: number };
}

interface Result {
  mode: 'fanout' | 'shared';
  instances: number;
  ms: number;
  stats: Stats[];
  won: number[];
}

async function run(mode: 'fanout' | 'shared', instances: number, url: string): Promise<Result> {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const namespace = `bench_ws_${tag}:`;
  const subscriber = `ws-${mode}-${instances}-${tag}`;
  const effects = `${namespace}effects`;
  // Its Redis connection reads the workers' effect counters (the bench has no Redis client of its own).
  const probe = new RedisDeliveryLedger({ url: REDIS_URL, namespace });
  const redis = probe.conn.redis;
  const children: { child: ChildProcess; out: string; exited: Promise<void> }[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', workerPath], {
        env: {
          ...process.env,
          MQTT_URL: url,
          REDIS_URL,
          LEDGER_NAMESPACE: namespace,
          SUBSCRIBER: subscriber,
          INSTANCE_ID: String(i),
          MODE: mode,
          VISIBILITY_MS: '30000',
          EFFECTS: effects,
          HANDLER_MS: '0',
          CONCURRENCY: '32',
          LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const c = { child, out: '', exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
      child.stdout.on('data', (d: Buffer) => (c.out += d.toString()));
      children.push(c);
    }
    await waitFor(() => children.every((c) => c.out.includes('ready')), { timeoutMs: 60_000, message: 'instances ready' });
    const publisher = await MqttPublisher.connect(url, { clientId: `bench-ws-pub-${tag}`, clean: true, protocolVersion: 'auto' });
    const events = Array.from({ length: N }, (_, i) => toOutgoing(bookingReserved(`bk-ws-${i}`)));
    const t0 = performance.now();
    await publishAll(publisher, events);
    const handled = async () => Object.values(await redis.hgetall(`${effects}:won`)).reduce((a, b) => a + Number(b), 0);
    await waitFor(async () => (await handled()) >= N, { timeoutMs: CAP_MS, intervalMs: 20, message: `${N} handled` });
    const ms = performance.now() - t0;
    await publisher.close();
    const h = await redis.hgetall(`${effects}:won`);
    const won = Array.from({ length: instances }, (_, i) => Number(h[String(i)] ?? 0));
    for (const c of children) c.child.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exited));
    const stats = children.map((c) => JSON.parse(/stats (.*)/.exec(c.out)?.[1] ?? 'null') as Stats);
    return { mode, instances, ms, stats, won };
  } finally {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await probe.close();
    await deleteNamespace(REDIS_URL, namespace);
  }
}

const broker = await startMosquitto();
const best = new Map<string, Result>();
try {
  const configs = [1, 2, 4].flatMap((n) => (['fanout', 'shared'] as const).map((mode) => ({ mode, n })));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { mode, n } of configs) {
      const r = await run(mode, n, broker.url);
      const key = `${mode}/${n}`;
      const prev = best.get(key);
      if (!prev || r.ms < prev.ms) best.set(key, r);
      console.log(`round ${round + 1} ${key}: ${Math.round((N / r.ms) * 1000)} msg/s`);
    }
  }
} finally {
  await broker.close();
}
const base = best.get('fanout/1')!;
console.log(
  `\n${N} events, Mosquitto, Redis ledger; throughput relative to fanout with 1 instance (${Math.round((N / base.ms) * 1000)} msg/s)`,
);
console.log(
  '| mode | instances | received per instance | ledger calls / msg (record + lease + ack) | records / msg | effects per instance | throughput |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of best.values()) {
  const sum = (f: (s: Stats) => number) => r.stats.reduce((a, s) => a + f(s), 0);
  const calls = sum((s) => s.ledger.record + s.ledger.lease + s.ledger.ack);
  console.log(
    `| ${r.mode} | ${r.instances} | ${r.stats.map((s) => s.transport.received).join(' / ')} | ${(calls / N).toFixed(3)} (${sum((s) => s.ledger.record)} + ${sum((s) => s.ledger.lease)} + ${sum((s) => s.ledger.ack)}) | ${(sum((s) => s.ledger.recordMessages) / N).toFixed(2)} | ${r.won.join(' / ')} | ${(base.ms / r.ms).toFixed(2)}× |`,
  );
}
