// The outbox/inbox contract, run against every SqlDatabase adapter (pg.test.ts, pglite.test.ts).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { BookingReserved, PaymentInitiated } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import type { EventEnvelope } from '@albergue/events';
import { MqttPublisher, RedisDeliveryLedger, Router, ledgerKey } from '@albergue/messaging';
import type { HandlerContext, SubscriptionPolicy } from '@albergue/messaging';
import { deleteNamespace, metricValue } from '@albergue/messaging/testing';
import { uniqueName, waitFor } from '@albergue/platform/testing';
import type { SqlDatabase, SqlTransaction } from './db/port.js';
import { runInbox, transactionalInbox, transactionOf } from './inbox.js';
import { migrate, MigrationError } from './migrations/runner.js';
import { OUTBOX_MIGRATIONS } from './migrations/sql.js';
import { Outbox, OutboxError } from './outbox.js';
import { OutboxRelay } from './relay.js';
import type { OutboxRelayOptions } from './relay.js';
import { bookingEvent, RecordingSubscriber, startBroker, startProxy } from './testing.js';

export interface DatabaseHarness {
  readonly label: string;
  /** Opens the suite's database; called again after `db.close()` it reopens the same data. */
  open(): Promise<SqlDatabase>;
  /** Removes the database (after the last close). */
  cleanup(): Promise<void>;
}

let outbox: Outbox;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Retries due at once (the retry test), a dedup window long enough for the ledger to accept it. */
const INBOX_POLICY: SubscriptionPolicy = {
  maxAttempts: 3,
  visibilityTimeoutMs: 10_000,
  backoff: { initialMs: 10, maxMs: 10, multiplier: 1, jitter: 0 },
  breaker: { failureThreshold: 50, windowMs: 30_000, openMs: 1_000 },
  dedupWindowMs: 60_000,
};

/** A command handler's unit of work: the aggregate row and its events in one transaction. */
async function reserve(tx: SqlTransaction, events: readonly EventEnvelope[]): Promise<void> {
  for (const e of events) {
    await tx.query(
      `INSERT INTO bookings (id, version) VALUES ($1, 1)
       ON CONFLICT (id) DO UPDATE SET version = bookings.version + 1`,
      [e.aggregate_id],
    );
  }
  await outbox.append(tx, events);
}

async function schemaSnapshot(db: SqlDatabase): Promise<unknown> {
  const cols = await db.query(`SELECT table_name, column_name, data_type, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`);
  const idx = await db.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`);
  const mig = await db.query('SELECT version, name, checksum, applied_at::text AS applied_at FROM schema_migrations ORDER BY version');
  return { cols: cols.rows, idx: idx.rows, mig: mig.rows };
}

export function outboxContract(h: DatabaseHarness): void {
  let db: SqlDatabase;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  const cleanups: (() => Promise<void>)[] = [];

  async function relayOn(
    url: string,
    options: OutboxRelayOptions = {},
    clientOpts: Parameters<typeof MqttPublisher.connect>[1] = {},
  ): Promise<{ relay: OutboxRelay; transport: MqttPublisher; stop: () => Promise<void> }> {
    const transport = await MqttPublisher.connect(url, { clientId: uniqueName('relay'), ...clientOpts });
    const relay = new OutboxRelay(db, transport, { pollIntervalMs: 200, ...options });
    await relay.start();
    const stop = async () => {
      await relay.stop();
      await transport.close();
    };
    return { relay, transport, stop };
  }

  async function subscriber(): Promise<RecordingSubscriber> {
    const sub = await RecordingSubscriber.connect(broker.url);
    cleanups.push(() => sub.close());
    return sub;
  }

  before(async () => {
    broker = await startBroker();
    db = await h.open();
    outbox = new Outbox(db);
    const first = await migrate(db);
    assert.deepEqual(
      first.applied,
      OUTBOX_MIGRATIONS.map((m) => m.version),
    );
    await db.query('CREATE TABLE bookings (id text PRIMARY KEY, version integer NOT NULL)');
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await db.close();
    await broker.close();
    await h.cleanup();
  });

  test(`${h.label}: migrations run twice → no error, no change; an edited migration is refused`, async () => {
    const snapshot = await schemaSnapshot(db);
    const again = await migrate(db);
    assert.deepEqual(again, { applied: [], skipped: OUTBOX_MIGRATIONS.map((m) => m.version) });
    assert.deepEqual(await schemaSnapshot(db), snapshot);
    const edited = OUTBOX_MIGRATIONS.map((m) => (m.version === 1 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    await assert.rejects(migrate(db, edited), MigrationError);
  });

  test(`${h.label}: metrics report backlog, lag and events_published_total`, async () => {
    const registry = new Registry();
    const published: string[] = [];
    const relay = new OutboxRelay(
      db,
      {
        publish: (batch) => {
          published.push(...batch.map((m) => m.eventId));
          return Promise.resolve(batch.map(() => ({ ok: true as const })));
        },
      },
      { metrics: registry },
    );
    const events = [bookingEvent(uniqueName('bk')), bookingEvent(uniqueName('bk')), bookingEvent(uniqueName('bk'))];
    await db.transaction((tx) => reserve(tx, events));
    const metrics1 = await registry.metrics();
    assert.match(metrics1, /^outbox_backlog 3$/m);
    const lag = Number(/^outbox_lag_seconds (\S+)$/m.exec(metrics1)?.[1]);
    assert.ok(lag > 0 && lag < 60, `lag ${lag}`);
    assert.equal((await relay.runOnce()).published, 3);
    assert.deepEqual(
      published,
      events.map((e) => e.event_id),
    );
    const metrics2 = await registry.metrics();
    assert.match(metrics2, /^outbox_backlog 0$/m);
    assert.match(metrics2, /^outbox_lag_seconds 0$/m);
    assert.match(metrics2, /^events_published_total\{topic="albergue\.booking\.v1\.BookingReserved"\} 3$/m);
  });

  test(`${h.label}: bad input is a clear error and rolls the command back`, async () => {
    const good = bookingEvent(uniqueName('bk'));
    const unknown = { ...good, event_type: 'NoSuchEvent' } as EventEnvelope;
    await assert.rejects(
      db.transaction((tx) => reserve(tx, [unknown])),
      (err: unknown) => err instanceof OutboxError && /unknown type NoSuchEvent v1/.test(err.message),
    );
    await assert.rejects(
      db.transaction((tx) => outbox.append(tx, [{ ...good, event_id: 'nope' }])),
      /event_id "nope" is not a UUID/,
    );
    const rows = await db.query('SELECT 1 FROM bookings WHERE id = $1', [good.aggregate_id]);
    assert.equal(rows.rowCount, 0);
    // The same event twice is refused by the database (event_id is unique).
    await db.transaction((tx) => reserve(tx, [good]));
    await assert.rejects(db.transaction((tx) => outbox.append(tx, [good])));
    await assert.rejects(
      runInbox(db, { subscriber: 's', eventId: 'x', topic: 't' }, () => Promise.resolve()),
      OutboxError,
    );
    await db.query('UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL');
  });

  test(`${h.label}: a rolled-back transaction leaves no outbox row and publishes nothing`, async () => {
    const sub = await subscriber();
    const { stop } = await relayOn(broker.url);
    const rolledBack = bookingEvent(uniqueName('bk'));
    await assert.rejects(
      db.transaction(async (tx) => {
        await reserve(tx, [rolledBack]);
        throw new Error('no beds left');
      }),
      /no beds left/,
    );
    assert.equal((await db.query('SELECT 1 FROM outbox_events WHERE event_id = $1', [rolledBack.event_id])).rowCount, 0);
    assert.equal((await db.query('SELECT 1 FROM bookings WHERE id = $1', [rolledBack.aggregate_id])).rowCount, 0);
    const marker = bookingEvent(uniqueName('bk'));
    await db.transaction((tx) => reserve(tx, [marker]));
    await waitFor(() => sub.has(marker.event_id), { timeoutMs: 10_000, message: 'the committed marker event' });
    assert.equal(sub.has(rolledBack.event_id), false);
    await stop();
  });

  test(`${h.label}: commit, then crash before the relay runs → published after restart, once`, async () => {
    const event = bookingEvent(uniqueName('bk'));
    await db.transaction((tx) => reserve(tx, [event]));
    await db.close(); // the process dies before any relay saw the row
    db = await h.open();
    outbox = new Outbox(db);
    const sub = await subscriber();
    const first = await relayOn(broker.url);
    await waitFor(() => sub.has(event.event_id), { timeoutMs: 10_000, message: 'the event committed before the crash' });
    await first.stop();
    // Another restart: the row is marked published, so nothing goes out again.
    const second = await relayOn(broker.url);
    const marker = bookingEvent(uniqueName('bk'));
    await db.transaction((tx) => reserve(tx, [marker]));
    await waitFor(() => sub.has(marker.event_id), { timeoutMs: 10_000, message: 'the marker' });
    await second.stop();
    assert.equal(sub.ids().filter((id) => id === event.event_id).length, 1);
    const row = await db.query<{ published: boolean; attempts: number }>(
      'SELECT published_at IS NOT NULL AS published, attempts FROM outbox_events WHERE event_id = $1',
      [event.event_id],
    );
    assert.deepEqual(row.rows[0], { published: true, attempts: 0 });
  });

  test(`${h.label}: broker unreachable while commands run → all published after, in order, none twice`, async () => {
    const sub = await subscriber();
    const proxy = await startProxy(broker.port);
    const { transport, stop } = await relayOn(proxy.url, { backoffMaxMs: 300, retryMinMs: 50, retryMaxMs: 300 }, { reconnectPeriod: 100 });
    const warmup = bookingEvent(uniqueName('bk'));
    await db.transaction((tx) => reserve(tx, [warmup]));
    await waitFor(() => sub.has(warmup.event_id), { message: 'warm-up event' });

    await proxy.cut();
    await waitFor(() => !transport.client.connected, { message: 'relay to notice the outage' });
    const aggregates = Array.from({ length: 30 }, () => uniqueName('bk'));
    const expected = new Map<string, string[]>(aggregates.map((a) => [a, []]));
    const outageEnds = Date.now() + 3000;
    for (let round = 0; round < 10 && Date.now() < outageEnds; round++) {
      for (const a of aggregates) {
        const e = bookingEvent(a);
        await db.transaction((tx) => reserve(tx, [e]));
        expected.get(a)!.push(e.event_id);
      }
      await delay(250); // spread commands over the outage (pacing, not synchronisation)
    }
    const total = [...expected.values()].reduce((n, l) => n + l.length, 0);
    await waitFor(
      async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE attempts > 0 AND published_at IS NULL')).rows[0]!
          .n > 0,
      { message: 'the relay to try and fail while the broker is away' },
    );
    const during = sub.received.filter((e) => expected.has(e.aggregate_id)).length;
    assert.equal(during, 0, 'nothing can arrive while the broker is unreachable');

    await proxy.restore();
    await waitFor(() => sub.received.filter((e) => expected.has(e.aggregate_id)).length >= total, {
      timeoutMs: 20_000,
      message: `all ${total} events after the broker returns`,
    });
    await stop();
    await proxy.close();
    const mine = sub.received.filter((e) => expected.has(e.aggregate_id));
    assert.equal(mine.length, total, 'none twice');
    const order = sub.orderByAggregate();
    for (const [a, ids] of expected) assert.deepEqual(order.get(a), ids, `order of ${a}`);
  });

  test(`${h.label}: three relays drain a 10,000-row backlog: each event once, per-aggregate order kept`, async () => {
    const sub = await subscriber();
    const aggregates = Array.from({ length: 500 }, () => uniqueName('bk'));
    const expected = new Map<string, string[]>(aggregates.map((a) => [a, []]));
    const total = 10_000;
    for (let start = 0; start < total; start += 500) {
      const batch = Array.from({ length: 500 }, (_, i) => bookingEvent(aggregates[(start + i) % aggregates.length]!));
      await db.transaction((tx) => outbox.append(tx, batch));
      for (const e of batch) expected.get(e.aggregate_id)!.push(e.event_id);
    }
    const registries = [new Registry(), new Registry(), new Registry()];
    const relays = await Promise.all(registries.map((metrics) => relayOn(broker.url, { batchSize: 200, metrics })));
    try {
      await waitFor(() => sub.distinct() >= total, { timeoutMs: 30_000, message: `${total} distinct events` });
    } finally {
      await Promise.all(relays.map((r) => r.stop())); // a failure here must not leave relays running into the next test
    }
    assert.equal(sub.received.length, total, 'each event received once');
    const order = sub.orderByAggregate();
    for (const [a, ids] of expected) assert.deepEqual(order.get(a), ids, `order of ${a}`);
    const perRelay = await Promise.all(
      registries.map(async (r) => {
        const m = await r.getSingleMetric('events_published_total')!.get();
        return m.values.reduce((n, v) => n + v.value, 0);
      }),
    );
    assert.equal(
      perRelay.reduce((a, b) => a + b, 0),
      total,
    );
    if (db.driver === 'pg')
      assert.ok(
        perRelay.every((n) => n > 0),
        `every relay took a share: ${perRelay.join(', ')}`,
      );
    const left = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE published_at IS NULL');
    assert.equal(left.rows[0]!.n, 0);
  });

  test(`${h.label}: publishedRows 'move' drains a 600-row backlog: each event once and in order; the rows leave the outbox, recorded`, async () => {
    const sub = await subscriber();
    const aggregates = Array.from({ length: 60 }, () => uniqueName('mv'));
    const events = Array.from({ length: 600 }, (_, i) => bookingEvent(aggregates[i % aggregates.length]!));
    for (let i = 0; i < events.length; i += 300) await db.transaction((tx) => outbox.append(tx, events.slice(i, i + 300)));
    const relays = await Promise.all(
      Array.from({ length: db.driver === 'pg' ? 2 : 1 }, () => relayOn(broker.url, { publishedRows: 'move', batchSize: 100 })),
    );
    const mine = new Set(events.map((e) => e.event_id));
    try {
      await waitFor(() => sub.received.filter((e) => mine.has(e.event_id)).length >= events.length, {
        timeoutMs: 60_000,
        message: `${events.length} events`,
      });
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
    assert.equal(sub.received.filter((e) => mine.has(e.event_id)).length, events.length, 'each event received once');
    const order = sub.orderByAggregate();
    for (const a of aggregates)
      assert.deepEqual(
        order.get(a),
        events.filter((e) => e.aggregate_id === a).map((e) => e.event_id),
        `order of ${a}`,
      );
    const left = await db.query('SELECT 1 FROM outbox_events WHERE aggregate_id = ANY($1)', [aggregates]);
    assert.equal(left.rowCount, 0, 'published rows left outbox_events');
    const recorded = await db.query<{ n: number; distinct: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct FROM outbox_published WHERE aggregate_id = ANY($1)',
      [aggregates],
    );
    assert.deepEqual(recorded.rows[0], { n: events.length, distinct: events.length });
  });

  /**
   * The production inbox (`transactionalInbox`) behind a real router on the real Redis delivery
   * ledger, under a namespace of its own (deleted afterwards). `deliver` is what the transport does
   * with a message from the broker: record it in the ledger, lease it, dispatch it.
   */
  async function inboxRig(
    effectTable: string,
    handler: (ctx: HandlerContext<typeof BookingReserved>, tx: SqlTransaction) => Promise<void>,
  ) {
    const namespace = `${uniqueName('t_inbox')}:`;
    const ledger = new RedisDeliveryLedger({ url: REDIS_URL, namespace });
    const registry = new Registry();
    const sub = uniqueName('payment');
    const router = new Router({ service: 'payment', subscriber: sub, ledger, metrics: registry, policy: INBOX_POLICY });
    router.use(transactionalInbox(db, outbox));
    router.on(BookingReserved, 'initiatePaymentOnBookingReserved', (ctx) => handler(ctx, transactionOf(ctx)));
    await router.start();
    await db.query(`CREATE TABLE IF NOT EXISTS ${effectTable} (event_id uuid NOT NULL)`);
    cleanups.push(async () => {
      await ledger.close();
      await deleteNamespace(REDIS_URL, namespace);
    });
    const deliver = async (e: EventEnvelope): Promise<string> => {
      const [recorded] = await ledger.record(sub, [{ topic: BookingReserved.topic, eventId: e.event_id, body: JSON.stringify(e) }]);
      if (recorded === 'duplicate') return 'ledger-duplicate';
      const delivery = await waitFor(async () => (await ledger.lease(sub, 1))[0], { message: `a lease of ${e.event_id}` });
      return router.dispatch(delivery);
    };
    const count = async (sql: string, params: unknown[]) => (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
    return {
      ledger,
      registry,
      sub,
      router,
      deliver,
      /** The dedup keys the ledger keeps for this subscriber (`mqtt:processed:<subscriber>:<topic>`). */
      dedupKeys: () => ledger.conn.redis.keys(`${namespace}${ledgerKey('processed', sub, '*')}`),
      effects: (id: string) => count(`SELECT count(*)::int AS n FROM ${effectTable} WHERE event_id = $1`, [id]),
      inboxRows: (id: string) => count('SELECT count(*)::int AS n FROM inbox_events WHERE subscriber = $1 AND event_id = $2', [sub, id]),
      emitted: (id: string) => count(`SELECT count(*)::int AS n FROM outbox_events WHERE envelope->>'causation_id' = $1`, [id]),
    };
  }

  test(`${h.label}: inbox — the real Redis ledger forgets an event (its dedup keys deleted) and it comes again → one effect, one emitted event`, async () => {
    let handlerRuns = 0;
    const rig = await inboxRig('payments_effect', async (ctx, tx) => {
      handlerRuns++;
      await tx.query('INSERT INTO payments_effect (event_id) VALUES ($1)', [ctx.event.event_id]);
      ctx.emit(PaymentInitiated, { ...SAMPLE_PAYLOADS.PaymentInitiated, booking_id: ctx.event.payload.booking_id });
    });
    const event = bookingEvent(uniqueName('bk'));
    assert.equal(await rig.deliver(event), 'acked');
    assert.equal(await rig.deliver(event), 'ledger-duplicate', 'Redis still remembers: skipped before the handler');
    assert.equal(handlerRuns, 1);
    const keys = await rig.dedupKeys();
    assert.equal(keys.length, 1, 'the ledger keeps its dedup state in Redis');
    await rig.ledger.conn.redis.unlink(...keys); // Redis forgets
    assert.equal(await rig.deliver(event), 'acked', 'the ledger takes it as new and the router acks it');
    assert.equal(handlerRuns, 1, 'the inbox skipped the handler');
    assert.equal(await metricValue(rig.registry, 'events_duplicate_total'), 1, 'the skip is counted as a duplicate');
    assert.equal(await rig.effects(event.event_id), 1);
    assert.equal(await rig.inboxRows(event.event_id), 1);
    assert.equal(await rig.emitted(event.event_id), 1, 'the event the handler emitted was written once, in its transaction');
  });

  test(`${h.label}: inbox — a handler that fails rolls back its effect, inbox row and emitted events together; the retry applies them once`, async () => {
    let failNext = true;
    const rig = await inboxRig('payments_effect_retry', async (ctx, tx) => {
      await tx.query('INSERT INTO payments_effect_retry (event_id) VALUES ($1)', [ctx.event.event_id]);
      ctx.emit(PaymentInitiated, { ...SAMPLE_PAYLOADS.PaymentInitiated, booking_id: ctx.event.payload.booking_id });
      if (failNext) {
        failNext = false;
        throw new Error('provider unreachable');
      }
    });
    const event = bookingEvent(uniqueName('bk'));
    assert.equal(await rig.deliver(event), 'retry-scheduled');
    assert.equal(await rig.effects(event.event_id), 0, 'no effect');
    assert.equal(await rig.inboxRows(event.event_id), 0, 'no inbox row: the retry is not taken for a duplicate');
    assert.equal(await rig.emitted(event.event_id), 0, 'no emitted event');
    const retry = await waitFor(async () => (await rig.ledger.lease(rig.sub, 1))[0], { message: 'the retry after its backoff' });
    assert.equal(retry.attempt, 2);
    assert.equal(await rig.router.dispatch(retry), 'acked');
    assert.equal(await rig.effects(event.event_id), 1);
    assert.equal(await rig.inboxRows(event.event_id), 1);
    assert.equal(await rig.emitted(event.event_id), 1);
  });

  test(`${h.label}: inbox — a failed effect records nothing; concurrent duplicates run the effect once`, async () => {
    const key = { subscriber: uniqueName('svc'), eventId: bookingEvent('x').event_id, topic: 'albergue.booking.v1.BookingReserved' };
    await assert.rejects(
      runInbox(db, key, () => Promise.reject(new Error('smtp down'))),
      /smtp down/,
    );
    assert.equal((await db.query('SELECT 1 FROM inbox_events WHERE subscriber = $1', [key.subscriber])).rowCount, 0);
    let runs = 0;
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        runInbox(db, key, (tx) => {
          runs++;
          return tx.query('SELECT 1').then(() => runs);
        }),
      ),
    );
    assert.equal(runs, 1);
    assert.deepEqual(results.map((r) => r.status).sort(), ['duplicate', 'duplicate', 'processed']);
  });
}
