// Outbox benchmarks (issue 4), bounded in count and time: `npx tsx bench/outbox.ts`.
//  1. Relay throughput draining a 50,000-event backlog on real Postgres, next to the raw QoS 1
//     publish rate (mqtt.js, window 100) through the same broker in the same run. Goal ≥ 90%.
//  2. Command throughput, 8 concurrent clients: one aggregate row + outbox row per transaction
//     through PgDatabase/Outbox, next to a raw two-insert transaction on pg. Goal ≥ 90%.
// Needs Postgres on 127.0.0.1:5432 (or PG_ADMIN_URL) and mosquitto on PATH (falls back to Aedes).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { toMqttTopic } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import { MqttOutboxTransport, migrate, Outbox, OutboxRelay, PgDatabase } from '@albergue/outbox';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { bookingEvent, createTestDatabase, startBroker } from '../packages/outbox/src/testing';

const BACKLOG = Number(process.env.BENCH_OUTBOX_BACKLOG ?? 50_000);
const COMMANDS_PER_CLIENT = Number(process.env.BENCH_OUTBOX_COMMANDS ?? 1000);
const CLIENTS = 8;
const WINDOW = 100;
const ROUNDS = 2; // alternate raw and ours; keep each side's best (the machine is shared)
const deadline = Date.now() + 5 * 60_000;

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;

async function startMosquitto(): Promise<{ url: string; close: () => Promise<void>; name: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-mosq-'));
  const port = await freePort();
  // 0 = unlimited: stock limits drop QoS 1 messages under load (FACTS.md).
  await writeFile(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n`);
  const child = spawn('mosquitto', ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `mqtt://127.0.0.1:${port}`;
  await Promise.race([spawnError, waitFor(async () => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500 });
    await c.endAsync();
    return true;
  }, { timeoutMs: 5000, message: 'mosquitto to accept connections' })]);
  return { url, name: 'Mosquitto (separate process)', close: async () => { child.kill('SIGTERM'); await exited; await rm(dir, { recursive: true, force: true }); } };
}

async function broker(): Promise<{ url: string; close: () => Promise<void>; name: string }> {
  try {
    return await startMosquitto();
  } catch (err) {
    console.log(`mosquitto unavailable (${(err as Error).message}); using in-process Aedes`);
    return { ...(await startBroker()), name: 'Aedes (in process)' };
  }
}

/** Counts messages received on albergue/# until `n` arrived; resolves with ms since `t0`. */
async function counter(url: string): Promise<{ expect: (n: number, t0: number) => Promise<number>; close: () => Promise<void> }> {
  const client = await mqtt.connectAsync(url, { clientId: uniqueName('bench-sub') });
  let count = 0;
  let target = Infinity;
  let done: (() => void) | undefined;
  client.on('message', () => { if (++count >= target) done?.(); });
  await client.subscribeAsync('albergue/#', { qos: 1 });
  return {
    expect: async (n, t0) => {
      count = 0;
      target = n;
      await new Promise<void>((resolve, reject) => {
        done = resolve;
        setTimeout(() => reject(new Error(`only ${count}/${n} messages arrived`)), Math.max(1000, deadline - Date.now())).unref();
      });
      return Date.now() - t0;
    },
    close: () => client.endAsync(),
  };
}

async function rawPublish(url: string, messages: { topic: string; body: string }[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: uniqueName('bench-raw') });
  let next = 0;
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      await client.publishAsync(m.topic, m.body, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  await client.endAsync();
}

async function relayBench(url: string, brokerName: string): Promise<void> {
  const t = await createTestDatabase('bench_outbox');
  const db = new PgDatabase(t.url, { max: 4 });
  const sub = await counter(url);
  try {
    await migrate(db);
    const envelopes: EventEnvelope[] = Array.from({ length: BACKLOG }, (_, i) => bookingEvent(`bk-${i % 10_000}`));
    const messages = envelopes.map((e) => ({ topic: toMqttTopic('albergue.booking.v1.BookingReserved'), body: JSON.stringify(e) }));

    let t0 = Date.now();
    const rawDone = sub.expect(BACKLOG, t0);
    await rawPublish(url, messages);
    const rawMs = await rawDone;

    const outbox = new Outbox(db);
    for (let i = 0; i < BACKLOG; i += 1000) await db.transaction((tx) => outbox.append(tx, envelopes.slice(i, i + 1000)));
    const results: string[] = [];
    for (const concurrency of [1, 2, 4]) {
      if (concurrency > 1) await db.query('UPDATE outbox_events SET published_at = NULL');
      const transport = await MqttOutboxTransport.connect(url, { clientId: uniqueName('bench-relay'), window: WINDOW });
      const relay = new OutboxRelay(db, transport, { batchSize: 500, concurrency });
      t0 = Date.now();
      const relayDone = sub.expect(BACKLOG, t0);
      await relay.start();
      const relayMs = await relayDone;
      await waitFor(async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE published_at IS NULL')).rows[0]!.n === 0,
        { timeoutMs: 30_000, message: 'every row marked published' });
      const markedMs = Date.now() - t0;
      await relay.stop();
      await transport.close();
      results.push(`  relay, concurrency ${concurrency}: ${rate(BACKLOG, relayMs).toLocaleString()} msg/s received (${relayMs} ms; all rows marked at ${markedMs} ms) = ${pct(rate(BACKLOG, relayMs), rate(BACKLOG, rawMs))} of raw`);
    }
    console.log(`Relay: draining a ${BACKLOG.toLocaleString()}-event backlog (~${messages[0]!.body.length} B envelopes) through ${brokerName}, QoS 1, window ${WINDOW}`);
    console.log(`  raw mqtt.js publish:    ${rate(BACKLOG, rawMs).toLocaleString()} msg/s (${rawMs} ms)`);
    for (const r of results) console.log(r);
  } finally {
    await sub.close();
    await db.close();
    await t.drop();
  }
}

async function commandBench(): Promise<void> {
  const t = await createTestDatabase('bench_cmd');
  const db = new PgDatabase(t.url, { max: CLIENTS });
  const raw = new pg.Pool({ connectionString: t.url, max: CLIENTS });
  try {
    await migrate(db);
    await db.exec(`CREATE TABLE bookings (id text PRIMARY KEY, status text NOT NULL);
      CREATE TABLE raw_events (id bigserial PRIMARY KEY, event_id uuid NOT NULL, topic text NOT NULL,
        aggregate_type text NOT NULL, aggregate_id text NOT NULL, envelope jsonb NOT NULL)`);
    const outbox = new Outbox(db);
    const total = CLIENTS * COMMANDS_PER_CLIENT;
    const run = async (label: string, one: (e: EventEnvelope) => Promise<void>) => {
      const envelopes = Array.from({ length: total }, () => bookingEvent(uniqueName('bk'))); // made outside the timing
      let next = 0;
      const t0 = Date.now();
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (next < total) await one(envelopes[next++]!);
      }));
      return { label, perSec: rate(total, Date.now() - t0) };
    };
    const rawTx = (table: 'raw_events' | 'outbox_events') => async (e: EventEnvelope) => {
      const c = await raw.connect();
      try {
        await c.query('BEGIN');
        await c.query('INSERT INTO bookings (id, status) VALUES ($1, $2)', [e.aggregate_id, 'reserved']);
        await c.query(`INSERT INTO ${table} (event_id, topic, aggregate_type, aggregate_id, envelope) VALUES ($1, $2, $3, $4, $5::jsonb)`,
          [e.event_id, 'albergue.booking.v1.BookingReserved', e.aggregate_type, e.aggregate_id, JSON.stringify(e)]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    };
    const command = (e: EventEnvelope) => db.transaction(async (tx) => {
      await tx.query('INSERT INTO bookings (id, status) VALUES ($1, $2)', [e.aggregate_id, 'reserved']);
      await outbox.append(tx, [e]);
    });
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS && Date.now() < deadline; round++) {
      for (const [label, fn] of [['raw two-insert tx (bare events table)', rawTx('raw_events')], ['raw two-insert tx (outbox_events table)', rawTx('outbox_events')], ['command via PgDatabase + Outbox', command]] as const) {
        const r = await run(label, fn);
        best.set(label, Math.max(best.get(label) ?? 0, r.perSec));
      }
    }
    console.log(`Command path: ${CLIENTS} concurrent clients × ${COMMANDS_PER_CLIENT} transactions (booking row + event), best of ${ROUNDS}`);
    const bare = best.get('raw two-insert tx (bare events table)')!;
    for (const [label, v] of best) console.log(`  ${label.padEnd(40)} ${v.toLocaleString()} tx/s = ${pct(v, bare)} of the bare raw tx`);
  } finally {
    await raw.end();
    await db.close();
    await t.drop();
  }
}

const b = await broker();
try {
  await relayBench(b.url, b.name);
  await commandBench();
} finally {
  await b.close();
}
