// Relay semantics with a scripted transport on real Postgres: hold-back on failure, leases, wake-ups.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { PgDatabase } from './db/pg';
import type { SqlDatabase } from './db/port';
import { migrate } from './migrations/runner';
import { Outbox } from './outbox';
import { OutboxRelay } from './relay';
import type { OutboxMessage, OutboxTransport, PublishResult } from './transport';
import { bookingEvent, createTestDatabase } from './testing';

let db: PgDatabase;
let drop: () => Promise<void>;
let outbox: Outbox;


before(async () => {
  const t = await createTestDatabase('outbox_relay');
  drop = t.drop;
  db = new PgDatabase(t.url);
  await migrate(db);
  outbox = new Outbox(db);
});

after(async () => {
  await db.close();
  await drop();
});

/** Records what it is asked to publish; fails the ids in `failOnce` the first time they are sent. */
class ScriptedTransport implements OutboxTransport {
  readonly sent: OutboxMessage[] = [];
  constructor(private readonly failOnce = new Set<string>()) {}
  publish(batch: readonly OutboxMessage[]): Promise<readonly PublishResult[]> {
    this.sent.push(...batch);
    return Promise.resolve(batch.map((m): PublishResult => {
      if (this.failOnce.delete(m.eventId)) return { ok: false, error: new Error('broker said no') };
      return { ok: true };
    }));
  }
  ids(): string[] {
    return this.sent.map((m) => m.eventId);
  }
}

async function drained(): Promise<boolean> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE published_at IS NULL');
  return r.rows[0]!.n === 0;
}

test('a failed publish holds back its aggregate’s later rows; other aggregates go on; retry keeps order', async () => {
  const a = uniqueName('a');
  const b = uniqueName('b');
  const [a1, a2, a3, b1, b2] = [bookingEvent(a), bookingEvent(a), bookingEvent(a), bookingEvent(b), bookingEvent(b)];
  await db.transaction((tx) => outbox.append(tx, [a1, b1, a2, b2, a3]));
  const transport = new ScriptedTransport(new Set([a1.event_id]));
  const relay = new OutboxRelay(db, transport, { retryMinMs: 200, retryMaxMs: 200 });
  const first = await relay.runOnce();
  assert.deepEqual(first, { claimed: 5, published: 2, failed: 1, heldBack: 2 });
  assert.deepEqual(transport.ids(), [a1.event_id, b1.event_id, b2.event_id], 'a2 and a3 were never sent');
  // a1 backs off: nothing of aggregate a is claimable until it may be retried.
  assert.equal((await relay.runOnce()).claimed, 0);
  const row = await db.query<{ attempts: number; last_error: string }>('SELECT attempts, last_error FROM outbox_events WHERE event_id = $1', [a1.event_id]);
  assert.deepEqual(row.rows[0], { attempts: 1, last_error: 'broker said no' });
  await waitFor(async () => (await relay.runOnce()).published === 3, { timeoutMs: 5000, message: 'the retry' });
  assert.deepEqual(transport.ids().slice(3), [a1.event_id, a2.event_id, a3.event_id]);
  assert.ok(await drained());
});

test('a relay that stalls mid-publish keeps its lease; after it expires another relay takes the rows', async () => {
  const e = bookingEvent(uniqueName('c'));
  await db.transaction((tx) => outbox.append(tx, [e]));
  let release: (r: PublishResult[]) => void = () => undefined;
  const stalled: OutboxTransport = { publish: () => new Promise((resolve) => { release = resolve; }) };
  const stuck = new OutboxRelay(db, stalled, { leaseMs: 500 });
  const stuckCycle = stuck.runOnce();
  await waitFor(async () => (await db.query('SELECT 1 FROM outbox_events WHERE event_id = $1 AND claimed_by = $2', [e.event_id, stuck.relayId])).rowCount === 1,
    { message: 'the stalled relay to hold the row' });
  const transport = new ScriptedTransport();
  const other = new OutboxRelay(db, transport);
  assert.equal((await other.runOnce()).claimed, 0, 'the lease is respected');
  await waitFor(async () => (await other.runOnce()).published === 1, { timeoutMs: 5000, message: 'the lease to expire' });
  assert.deepEqual(transport.ids(), [e.event_id]);
  release([{ ok: true }]); // the stalled relay wakes up: a duplicate at worst, and the row stays published
  assert.deepEqual(await stuckCycle, { claimed: 1, published: 1, failed: 0, heldBack: 0 });
  assert.ok(await drained());
});

test('NOTIFY wakes an idle relay long before its poll interval', async () => {
  const transport = new ScriptedTransport();
  const relay = new OutboxRelay(db, transport, { pollIntervalMs: 60_000 });
  await relay.start();
  try {
    await waitFor(async () => (await relay.runOnce()).claimed === 0, { message: 'the relay idle' });
    const e = bookingEvent(uniqueName('d'));
    await db.transaction((tx) => outbox.append(tx, [e]));
    await waitFor(() => transport.ids().includes(e.event_id), { timeoutMs: 5000, message: 'the notified relay to publish' });
  } finally {
    await relay.stop();
  }
});

test('without LISTEN the relay still publishes by polling', async () => {
  const noListen: SqlDatabase = {
    driver: db.driver,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    listen: () => Promise.reject(new Error('LISTEN unavailable')),
    close: () => Promise.resolve(),
  };
  const transport = new ScriptedTransport();
  const relay = new OutboxRelay(noListen, transport, { pollIntervalMs: 100 });
  await relay.start();
  try {
    const e = bookingEvent(uniqueName('e'));
    await db.transaction((tx) => outbox.append(tx, [e]));
    await waitFor(() => transport.ids().includes(e.event_id), { timeoutMs: 5000, message: 'the polling relay to publish' });
  } finally {
    await relay.stop();
  }
});

test('bad relay options are refused with a clear error', () => {
  assert.throws(() => new OutboxRelay(db, new ScriptedTransport(), { batchSize: 0 }), /batchSize must be a positive number/);
});
