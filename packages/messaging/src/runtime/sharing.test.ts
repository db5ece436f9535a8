// Work sharing (MQTT_SUBSCRIPTION_MODE=shared) across 4 consumer processes on real Mosquitto and
// Redis: a publisher sends a few thousand events while one instance is SIGKILLed and restarted twice.
// Every event's effect happens exactly once (a Redis SET NX per event_id, as an idempotent handler
// does), and the effects made by the instances that stayed up throughout are within ±20% of their mean.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { MqttPublisher } from '../mqtt/publisher.js';
import { toOutgoing } from '../mqtt/outgoing.js';
import { publishAll } from '../ports/publisher.js';
import { bookingReserved, startMosquitto } from '../testing/index.js';
import { redisTestLedger } from '../testing/ledgers.js';

const workerSource = fileURLToPath(new URL('./testdata/sharing-worker.ts', import.meta.url));
const workerBuilt = fileURLToPath(new URL('../../dist/runtime/testdata/sharing-worker.js', import.meta.url));
// The built worker when it is up to date (scripts/test.mjs builds first): a process restart then takes
// well under a second instead of tsx compiling the sources again on a loaded machine.
const workerArgs =
  existsSync(workerBuilt) && statSync(workerBuilt).mtimeMs >= statSync(workerSource).mtimeMs
    ? [workerBuilt]
    : ['--conditions=development', '--import', 'tsx', workerSource];
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Instance {
  readonly id: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  ready: boolean;
}

test('shared mode, 4 processes, one SIGKILLed and restarted twice: each event handled once, healthy instances within ±20% of even', async () => {
  const broker = await startMosquitto();
  const ledger = await redisTestLedger(REDIS_URL);
  const namespace = (ledger.ledger as unknown as { conn: { ns: string } }).conn.ns;
  const effects = `${namespace}effects`;
  const subscriber = uniqueName('share');
  const redis = new Redis(REDIS_URL);
  const instances = new Map<number, Instance>();
  const spawnInstance = (id: number): Instance => {
    const child = spawn(process.execPath, workerArgs, {
      env: {
        ...process.env,
        MQTT_URL: broker.url,
        REDIS_URL,
        LEDGER_NAMESPACE: namespace,
        SUBSCRIBER: subscriber,
        INSTANCE_ID: String(id),
        MODE: 'shared',
        VISIBILITY_MS: '2000',
        EFFECTS: effects,
        // Saturated instances (4 handlers of 20 ms each, ~200 events/s per instance, below the
        // publisher's pace): the split then reflects each instance's capacity, not who polls first.
        HANDLER_MS: '20',
        CONCURRENCY: '4',
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const inst: Instance = { id, child, exited: new Promise((resolve) => child.once('exit', () => resolve())), ready: false };
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) inst.ready = true;
    });
    instances.set(id, inst);
    return inst;
  };
  const counts = async (key: 'won' | 'repeat'): Promise<number[]> => {
    const h = await redis.hgetall(`${effects}:${key}`);
    return [0, 1, 2, 3].map((i) => Number(h[String(i)] ?? 0));
  };
  const handled = async () => (await counts('won')).reduce((a, b) => a + b, 0);
  const publisher = await MqttPublisher.connect(broker.url, { clientId: uniqueName('pub'), clean: true, protocolVersion: 'auto' });
  try {
    for (const id of [0, 1, 2, 3]) spawnInstance(id);
    await waitFor(() => [...instances.values()].every((i) => i.ready), {
      timeoutMs: 120_000,
      message: '4 instances ready',
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}; not ready: ${[...instances.values()]
          .filter((i) => !i.ready)
          .map((i) => i.id)
          .join(', ')}`,
      );
    });
    const total = 3_000;
    const batch = 100;
    // Instance 3 is killed at these points of the run (the second time once it is up again); 0, 1, 2 stay up.
    const kills = [750, 1_800];
    let killed = 0;
    const ids: string[] = [];
    for (let published = 0; published < total;) {
      // Bounded backlog: the run lasts long enough for the kills to land while work is in progress.
      await waitFor(async () => (await handled()) >= published - 600, { timeoutMs: 60_000, message: `handled ≥ ${published - 600}` });
      const events = Array.from({ length: batch }, (_, i) => bookingReserved(`bk-share-${published + i}`));
      await publishAll(publisher, events.map(toOutgoing));
      for (const e of events) ids.push(e.event_id);
      published += batch;
      if (killed < kills.length && published >= kills[killed]!) {
        // A restart takes a few seconds (tsx compiles the worker): the next kill waits until it is up and handling.
        await waitFor(() => instances.get(3)!.ready, { timeoutMs: 60_000, message: 'instance 3 up before it is killed' });
        const victim = instances.get(3)!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        killed++;
        spawnInstance(3);
      }
    }
    assert.equal(killed, kills.length, 'both kills happened during the run');
    await waitFor(async () => (await handled()) >= total, { timeoutMs: 60_000, message: `${total} events handled` });
    await waitFor(() => instances.get(3)!.ready, { timeoutMs: 60_000, message: 'instance 3 up again' });
    await waitFor(async () => Object.values(await ledger.ledger.depth(subscriber)).reduce((a, b) => a + b, 0) === 0, {
      timeoutMs: 30_000,
      message: 'the ledger drained (no message left pending or leased)',
    });
    const won = await counts('won');
    const repeats = await counts('repeat');
    console.log(`effects per instance ${won.join(', ')}; repeats (already made, after a lapsed lease) ${repeats.join(', ')}`);
    // Exactly once: one SET NX won per event, and every published event has its effect.
    assert.equal(
      won.reduce((a, b) => a + b, 0),
      total,
      'effects made',
    );
    for (let i = 0; i < ids.length; i += 500) {
      const got = await redis.mget(ids.slice(i, i + 500).map((id) => `${effects}:effect:${id}`));
      assert.ok(
        got.every((v) => v !== null),
        'every published event has its effect',
      );
    }
    const healthy = won.slice(0, 3);
    const mean = healthy.reduce((a, b) => a + b, 0) / healthy.length;
    for (const [i, n] of healthy.entries())
      assert.ok(
        Math.abs(n - mean) <= 0.2 * mean,
        `instance ${i} made ${n} effects, more than ±20% from the healthy mean ${mean.toFixed(0)}`,
      );
  } finally {
    for (const inst of instances.values()) if (inst.child.exitCode === null && inst.child.signalCode === null) inst.child.kill('SIGKILL');
    await Promise.all([...instances.values()].map((i) => i.exited));
    await publisher.close();
    redis.disconnect();
    await ledger.close();
    await broker.close();
  }
});
