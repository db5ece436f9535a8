// Relay semantics with a scripted publisher on real Postgres: hold-back on failure, leases, wake-ups.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import { PgDatabase } from './db/pg.js';
import type { SqlDatabase } from './db/port.js';
import { migrate } from './migrations/runner.js';
import { OUTBOX_NOTIFY_CHANNEL } from './migrations/sql.js';
import { Outbox } from './outbox.js';
import { LOCK_CLAIM_SQL } from './claim.js';
import { OutboxRelay } from './relay.js';
import type { OutgoingMessage, Publisher, PublishResult } from '@albergue/messaging';
import { bookingEvent, createTestDatabase } from './testing.js';

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
class ScriptedPublisher implements Publisher {
  readonly sent: OutgoingMessage[] = [];
  constructor(private readonly failOnce = new Set<string>()) {}
  publish(batch: readonly OutgoingMessage[]): Promise<readonly PublishResult[]> {
    this.sent.push(...batch);
    return Promise.resolve(
      batch.map((m): PublishResult => {
        if (this.failOnce.delete(m.eventId)) return { ok: false, error: new Error('broker said no') };
        return { ok: true };
      }),
    );
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
  const transport = new ScriptedPublisher(new Set([a1.event_id]));
  const relay = new OutboxRelay(db, transport, { retryMinMs: 200, retryMaxMs: 200 });
  const first = await relay.runOnce();
  assert.deepEqual(first, { claimed: 5, published: 2, failed: 1, heldBack: 2 });
  assert.deepEqual(transport.ids(), [a1.event_id, b1.event_id, b2.event_id], 'a2 and a3 were never sent');
  // a1 backs off: nothing of aggregate a is claimable until it may be retried.
  assert.equal((await relay.runOnce()).claimed, 0);
  const row = await db.query<{ attempts: number; last_error: string }>(
    'SELECT attempts, last_error FROM outbox_events WHERE event_id = $1',
    [a1.event_id],
  );
  assert.deepEqual(row.rows[0], { attempts: 1, last_error: 'broker said no' });
  await waitFor(async () => (await relay.runOnce()).published === 3, { timeoutMs: 5000, message: 'the retry' });
  assert.deepEqual(transport.ids().slice(3), [a1.event_id, a2.event_id, a3.event_id]);
  assert.ok(await drained());
});

test('a relay that stalls mid-publish keeps its lease; after it expires another relay takes the rows', async () => {
  const e = bookingEvent(uniqueName('c'));
  await db.transaction((tx) => outbox.append(tx, [e]));
  let release: (r: PublishResult[]) => void = () => undefined;
  const stalled: Publisher = {
    publish: () =>
      new Promise((resolve) => {
        release = resolve;
      }),
  };
  const stuck = new OutboxRelay(db, stalled, { leaseMs: 500 });
  const stuckCycle = stuck.runOnce();
  await waitFor(
    async () =>
      (await db.query('SELECT 1 FROM outbox_events WHERE event_id = $1 AND claimed_by = $2', [e.event_id, stuck.relayId])).rowCount === 1,
    { message: 'the stalled relay to hold the row' },
  );
  const transport = new ScriptedPublisher();
  const other = new OutboxRelay(db, transport);
  assert.equal((await other.runOnce()).claimed, 0, 'the lease is respected');
  await waitFor(async () => (await other.runOnce()).published === 1, { timeoutMs: 5000, message: 'the lease to expire' });
  assert.deepEqual(transport.ids(), [e.event_id]);
  release([{ ok: true }]); // the stalled relay wakes up: a duplicate at worst, and the row stays published
  assert.deepEqual(await stuckCycle, { claimed: 1, published: 1, failed: 0, heldBack: 0 });
  assert.ok(await drained());
});

test('NOTIFY wakes an idle relay long before its poll interval', async () => {
  const transport = new ScriptedPublisher();
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
  const transport = new ScriptedPublisher();
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
  assert.throws(() => new OutboxRelay(db, new ScriptedPublisher(), { batchSize: 0 }), /batchSize must be a positive number/);
});

test('the Postgres loop (row locks, pipelined): a failed publish holds back its aggregate across batches; order kept', async () => {
  const a = uniqueName('la');
  const b = uniqueName('lb');
  const [a1, a2, a3, b1, b2] = [bookingEvent(a), bookingEvent(a), bookingEvent(a), bookingEvent(b), bookingEvent(b)];
  await db.transaction((tx) => outbox.append(tx, [a1, b1, a2, b2, a3]));
  const transport = new ScriptedPublisher(new Set([a1.event_id]));
  // Batches of 2: the next batch is claimed while [a1, b1] is out, and must not take a2 or b2.
  const relay = new OutboxRelay(db, transport, { batchSize: 2, retryMinMs: 100, retryMaxMs: 100, pollIntervalMs: 50, backoffMinMs: 20 });
  await relay.start();
  try {
    await waitFor(drained, { timeoutMs: 10_000, message: 'every row published' });
  } finally {
    await relay.stop();
  }
  const sent = transport.ids();
  const of = (events: (typeof a1)[]) => sent.filter((id) => events.some((e) => e.event_id === id));
  assert.deepEqual(of([a1, a2, a3]), [a1.event_id, a1.event_id, a2.event_id, a3.event_id], 'a2 waits for the retried a1');
  assert.deepEqual(of([b1, b2]), [b1.event_id, b2.event_id]);
  const row = await db.query<{ attempts: number; claimed_by: string | null }>(
    'SELECT attempts, claimed_by FROM outbox_events WHERE event_id = $1',
    [a1.event_id],
  );
  assert.deepEqual(row.rows[0], { attempts: 1, claimed_by: null });
});

test('the loop claims its next batch while one is published, and never a row behind an unpublished one', async () => {
  const a = uniqueName('pa');
  const [a1, x1, x2, a2, x3] = [
    bookingEvent(a),
    bookingEvent(uniqueName('px')),
    bookingEvent(uniqueName('px')),
    bookingEvent(a),
    bookingEvent(uniqueName('px')),
  ];
  await db.transaction((tx) => outbox.append(tx, [a1, x1, x2, a2, x3]));
  const calls: string[][] = [];
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const gated: Publisher = {
    publish: (batch) => {
      calls.push(batch.map((m) => m.eventId));
      return (calls.length === 1 ? gate : Promise.resolve()).then(() => batch.map((): PublishResult => ({ ok: true })));
    },
  };
  const relay = new OutboxRelay(db, gated, { batchSize: 2, pollIntervalMs: 50 });
  await relay.start();
  try {
    await waitFor(() => calls.length >= 2, { message: 'a second batch while the first [a1, x1] is still out' });
    assert.deepEqual(calls[0], [a1.event_id, x1.event_id]);
    assert.ok(!calls.slice(1).flat().includes(a2.event_id), 'a2 is not claimed while a1 is unpublished');
    open();
    await waitFor(drained, { timeoutMs: 10_000, message: 'every row published' });
  } finally {
    open();
    await relay.stop();
  }
  const order = calls.flat();
  assert.ok(order.indexOf(a1.event_id) < order.indexOf(a2.event_id));
  assert.deepEqual([...order].sort(), [a1, x1, x2, a2, x3].map((e) => e.event_id).sort(), 'each once');
});

test('the Postgres loop holds rows by lock, not lease; a relay that hangs loses them after leaseMs', async () => {
  const e = bookingEvent(uniqueName('h'));
  await db.transaction((tx) => outbox.append(tx, [e]));
  let release: (r: PublishResult[]) => void = () => undefined;
  let calls = 0;
  const stalled: Publisher = {
    publish: () => {
      calls++;
      return new Promise((resolve) => {
        release = resolve;
      });
    },
  };
  const hung = new OutboxRelay(db, stalled, { leaseMs: 500, pollIntervalMs: 60_000 });
  await hung.start();
  const transport = new ScriptedPublisher();
  try {
    await waitFor(() => calls === 1, { message: 'the hung relay to hold the row' });
    const row = await db.query<{ claimed_by: string | null }>('SELECT claimed_by FROM outbox_events WHERE event_id = $1', [e.event_id]);
    assert.equal(row.rows[0]!.claimed_by, null, 'no lease is written');
    const other = new OutboxRelay(db, transport);
    assert.equal((await other.runOnce()).claimed, 0, 'the locked row is skipped');
    await waitFor(async () => (await other.runOnce()).published === 1, { timeoutMs: 5000, message: 'Postgres to end the idle session' });
  } finally {
    release([{ ok: true }]); // its PUBACK comes late: a duplicate at worst, and the row stays published
    await hung.stop();
  }
  assert.deepEqual(transport.ids(), [e.event_id]);
  assert.ok(await drained());
});

test("publishedRows 'move', leased and locked claims, two relays: failed rows held back and retried in order; each published row leaves the outbox once, recorded", async () => {
  const aggregates = Array.from({ length: 40 }, () => uniqueName('mv'));
  const events = Array.from({ length: 1200 }, (_, i) => bookingEvent(aggregates[i % aggregates.length]!));
  for (let i = 0; i < events.length; i += 300) await db.transaction((tx) => outbox.append(tx, events.slice(i, i + 300)));
  const failOnce = new Set(events.filter((_, i) => i % 97 === 0).map((e) => e.event_id));
  const acked: string[] = []; // successful sends, in the order they were acknowledged
  const flaky: Publisher = {
    publish: (batch) =>
      Promise.resolve(
        batch.map((m): PublishResult => {
          if (failOnce.delete(m.eventId)) return { ok: false, error: new Error('broker said no') };
          acked.push(m.eventId);
          return { ok: true };
        }),
      ),
  };
  const options = { publishedRows: 'move', batchSize: 100, retryMinMs: 20, retryMaxMs: 50, pollIntervalMs: 50, backoffMinMs: 10 } as const;
  const leased = new OutboxRelay(db, flaky, options);
  assert.equal((await leased.runOnce()).published > 0, true, 'a leased cycle moves what it published');
  const relays = [new OutboxRelay(db, flaky, options), new OutboxRelay(db, flaky, options)];
  await Promise.all(relays.map((r) => r.start()));
  try {
    await waitFor(
      async () => (await db.query('SELECT 1 FROM outbox_events WHERE aggregate_id = ANY($1) LIMIT 1', [aggregates])).rowCount === 0,
      { timeoutMs: 20_000, message: 'every row moved out of outbox_events' },
    );
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
  }
  assert.equal(failOnce.size, 0, 'every failing row was retried');
  const mine = new Set(events.map((e) => e.event_id));
  assert.equal(acked.filter((id) => mine.has(id)).length, events.length, 'each acknowledged once');
  const position = new Map(acked.map((id, i) => [id, i]));
  for (const a of aggregates) {
    const ids = events.filter((e) => e.aggregate_id === a).map((e) => e.event_id);
    assert.deepEqual(
      [...ids].sort((x, y) => position.get(x)! - position.get(y)!),
      ids,
      `order of ${a}`,
    );
  }
  const recorded = await db.query<{ event_id: string; n: number; attempts: number }>(
    'SELECT event_id::text AS event_id, count(*)::int AS n, max(attempts) AS attempts FROM outbox_published WHERE aggregate_id = ANY($1) GROUP BY event_id',
    [aggregates],
  );
  assert.equal(recorded.rowCount, events.length, 'each published row recorded');
  assert.ok(recorded.rows.every((r) => r.n === 1));
  assert.equal(recorded.rows.filter((r) => r.attempts === 1).length, Math.ceil(events.length / 97), 'failed attempts are kept');
});

test("publishedRows other than 'mark' or 'move' is refused", () => {
  assert.throws(
    () => new OutboxRelay(db, new ScriptedPublisher(), { publishedRows: 'archive' as 'move' }),
    /publishedRows must be 'mark' or 'move', got archive/,
  );
});

test('a claim reads a bounded part of the backlog, even with statistics taken while the outbox was drained', async () => {
  // Statistics from a drained outbox say "no unpublished rows": the previous claim then scanned the
  // whole backlog per claimed row (seconds per claim on 20,000 rows). Twenty times the backlog must not
  // cost a claim much more (the plan may differ between the two, e.g. after an autoanalyze).
  await db.exec('VACUUM ANALYZE outbox_events');
  const template = bookingEvent(uniqueName('s'));
  const add = (n: number) =>
    db.query(
      `INSERT INTO outbox_events (event_id, topic, aggregate_type, aggregate_id, envelope)
     SELECT gen_random_uuid(), 'albergue.booking.v1.BookingReserved', 'booking', 'bk-' || (g % 1000), $1::jsonb
       FROM generate_series(1, $2::int) g`,
      [JSON.stringify(template), n],
    );
  // What a claim reads, from its plan: the outbox rows its scans visited (returned, or removed by a
  // filter or recheck, times loops), and its buffers. Rows are the bound: buffer counts also move with
  // what the machine does meanwhile (autovacuum, hint bits), so they are reported, not asserted.
  type PlanNode = { 'Relation Name'?: string; 'Actual Rows': number; 'Actual Loops': number; Plans?: PlanNode[] } & Record<string, unknown>;
  const visited = (n: PlanNode): number =>
    (n['Relation Name'] === 'outbox_events'
      ? (n['Actual Rows'] + Number(n['Rows Removed by Filter'] ?? 0) + Number(n['Rows Removed by Index Recheck'] ?? 0)) * n['Actual Loops']
      : 0) + (n.Plans ?? []).reduce((sum, c) => sum + visited(c), 0);
  const measure = async (): Promise<{ rows: number; buffers: number; plan: string }> => {
    let plan: unknown;
    await db
      .transaction(async (tx) => {
        const r = await tx.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${LOCK_CLAIM_SQL}`, [100, 400]);
        plan = r.rows[0]!['QUERY PLAN'];
        throw new Error('roll back the locks');
      })
      .catch(() => undefined);
    const top = (plan as [{ Plan: PlanNode }])[0].Plan;
    assert.equal(top['Actual Rows'], 100);
    return {
      rows: visited(top),
      buffers: Number(top['Shared Hit Blocks']) + Number(top['Shared Read Blocks']),
      plan: JSON.stringify(plan),
    };
  };
  try {
    await add(2000);
    const small = await measure();
    await add(38_000);
    const large = await measure();
    assert.ok(
      large.rows <= 5 * 400 && large.rows < 3 * small.rows + 400,
      `a claim on 40,000 rows visited ${large.rows} outbox rows (${large.buffers} buffers), on 2,000 rows ${small.rows} (${small.buffers}); plan: ${large.plan}`,
    );
  } finally {
    await db.query('UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL');
  }
});

test('a burst of commits sends few NOTIFYs, and one follows the last commit', async () => {
  const seen: number[] = [];
  const unlisten = await db.listen(OUTBOX_NOTIFY_CHANNEL, () => seen.push(Date.now()));
  try {
    const burst = new Outbox(db);
    const t0 = Date.now();
    for (let i = 0; i < 40; i++) await db.transaction((tx) => burst.append(tx, [bookingEvent(uniqueName('n'))]));
    const lastCommit = Date.now();
    await waitFor(() => seen.some((t) => t >= lastCommit), { message: 'a NOTIFY after the last commit' });
    const bound = Math.ceil((lastCommit - t0) / 10) + 2; // one per 10 ms, plus the leading and trailing ones
    assert.ok(seen.length >= 1 && seen.length <= bound, `${seen.length} notifications for 40 commits in ${lastCommit - t0} ms`);
  } finally {
    await unlisten();
    await db.query('UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL');
  }
});

test('a claim takes an aggregate’s rows up to the first one another transaction holds, none after it', async () => {
  const k = uniqueName('k');
  const [k1, k2, k3, k4] = [bookingEvent(k), bookingEvent(k), bookingEvent(k), bookingEvent(k)];
  const other = bookingEvent(uniqueName('o'));
  await db.transaction((tx) => outbox.append(tx, [k1, k2, k3, k4, other]));
  try {
    // Another batch holds k3 (as one that locked it but could not use it would, until it commits).
    await db.transaction(async (holder) => {
      await holder.query('SELECT 1 FROM outbox_events WHERE event_id = $1 FOR UPDATE', [k3.event_id]);
      const claimed = await db.transaction((tx) => tx.query<{ id: string; event_id: string }>(LOCK_CLAIM_SQL, [100, 400]));
      const ids = claimed.rows.sort((x, y) => Number(x.id) - Number(y.id)).map((r) => r.event_id);
      assert.deepEqual(ids, [k1.event_id, k2.event_id, other.event_id], 'k1 and k2 precede the held k3; k4 waits behind it');
    });
  } finally {
    await db.query('UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL');
  }
});
