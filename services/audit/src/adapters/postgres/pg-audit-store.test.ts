// audit_events on real Postgres (a database of its own, dropped at the end) and on PGlite: appends
// once per event_id, reads by seq with filters, and refuses UPDATE, DELETE and TRUNCATE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BookingConfirmed, BookingReserved, newEnvelope, withCorrelation } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import { OUTBOX_MIGRATIONS, migrate } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { openTestPglite, openTestPostgres } from '@albergue/outbox/test-databases';
import { PgAuditStore } from './pg-audit-store.js';
import { AUDIT_MIGRATIONS } from './migrations.js';

for (const [name, open] of [
  ['postgres', () => openTestPostgres('audit_store_test')],
  ['pglite', () => openTestPglite('audit_store_test')],
] as const) {
  describe(`audit store on ${name}`, () => {
    let t: TestDatabase;
    let store: PgAuditStore;
    const append = (e: EventEnvelope, topic = `albergue.booking.v1.${e.event_type}`) =>
      t.db.transaction((tx) => store.append(tx, e, topic));

    before(async () => {
      t = await open();
      await migrate(t.db, [...OUTBOX_MIGRATIONS, ...AUDIT_MIGRATIONS]);
      store = new PgAuditStore(t.db);
    });
    after(async () => {
      await t?.dispose();
    });

    test('an event is stored once, with its columns and the envelope as received; a redelivery is refused quietly', async () => {
      const reserved = newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: 'bk-store-1' });
      const first = await append(reserved);
      assert.ok(first);
      assert.equal(first.eventId, reserved.event_id);
      assert.equal(first.aggregateId, 'bk-store-1');
      assert.equal(first.correlationId, reserved.correlation_id);
      assert.equal(first.occurredAt, reserved.occurred_at);
      assert.deepEqual(first.envelope, JSON.parse(JSON.stringify(reserved)));
      assert.ok(Date.parse(first.recordedAt) > 0);
      assert.equal(await append(reserved), undefined, 'the same event_id again');
      assert.equal((await store.list({ aggregateId: 'bk-store-1' }, 0, 10)).length, 1);
    });

    test('paging by seq with filters; the flow in recording order; a booking found by its id', async () => {
      const reserved = newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: 'bk-store-2' });
      const confirmed = newEnvelope(
        BookingConfirmed,
        { ...SAMPLE_PAYLOADS.BookingConfirmed, booking_id: 'bk-store-2' },
        withCorrelation(reserved),
      );
      const s1 = await append(reserved);
      const s2 = await append(confirmed);
      assert.ok(s1 && s2 && s2.seq > s1.seq);
      const all = await store.list({}, 0, 1000);
      assert.deepEqual(
        all.map((e) => e.seq),
        [...all.map((e) => e.seq)].sort((a, b) => a - b),
      );
      assert.deepEqual(
        (await store.list({ eventType: 'BookingConfirmed', aggregateId: 'bk-store-2' }, 0, 10)).map((e) => e.eventId),
        [confirmed.event_id],
      );
      assert.deepEqual(
        (await store.list({ correlationId: reserved.correlation_id }, s1.seq, 10)).map((e) => e.eventId),
        [confirmed.event_id],
      );
      assert.equal((await store.list({ from: '2999-01-01T00:00:00Z' }, 0, 10)).length, 0);
      assert.equal((await store.list({ to: '2000-01-01T00:00:00Z' }, 0, 10)).length, 0);
      assert.deepEqual(
        (await store.flow(reserved.correlation_id, 10)).map((e) => e.eventType),
        ['BookingReserved', 'BookingConfirmed'],
      );
      assert.equal(await store.correlationOfAggregate('booking', 'bk-store-2'), reserved.correlation_id);
      assert.equal(await store.correlationOfAggregate('booking', 'nope'), undefined);
    });

    test('UPDATE, DELETE and TRUNCATE fail as the role the service uses; the rows stay', async () => {
      const e = newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: 'bk-store-3' });
      await append(e);
      const before = (await t.db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]!.n;
      await assert.rejects(
        t.db.query(`UPDATE audit_events SET topic = 'x' WHERE event_id = $1`, [e.event_id]),
        /append-only: UPDATE refused/,
      );
      await assert.rejects(t.db.query('DELETE FROM audit_events WHERE event_id = $1', [e.event_id]), /append-only: DELETE refused/);
      await assert.rejects(t.db.query('DELETE FROM audit_events'), /append-only: DELETE refused/);
      await assert.rejects(t.db.exec('TRUNCATE audit_events'), /append-only: TRUNCATE refused/);
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await tx.query(`UPDATE audit_events SET envelope = '{}'::jsonb`);
        }),
        /append-only/,
      );
      assert.equal((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]!.n, before);
      const [row] = await store.list({ aggregateId: 'bk-store-3' }, 0, 1);
      assert.equal(row?.topic, 'albergue.booking.v1.BookingReserved');
    });
  });
}
