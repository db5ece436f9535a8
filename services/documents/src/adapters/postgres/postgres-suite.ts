// Documents' Postgres adapter, for pg.test.ts (real Postgres) and pglite.test.ts: submit and validate
// through it, the projection, nothing of the number stored in clear, and validators racing on one database.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { newEventId } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import { migrate, OUTBOX_MIGRATIONS } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { AesGcmDocumentCipher } from '../crypto/aes-gcm-document-cipher.js';
import { getDocument, listBookingDocuments } from '../../application/queries.js';
import { submitDocument } from '../../application/submit-document.js';
import type { SubmitDocumentInput } from '../../application/submit-document.js';
import { validatePendingDocuments } from '../../application/validate-documents.js';
import { DOCUMENTS_MIGRATIONS } from './migrations.js';
import { PgDocumentQueries } from './pg-document-queries.js';
import { PgDocumentRepository } from './pg-document-repository.js';

const ALL_MIGRATIONS = [...OUTBOX_MIGRATIONS, ...DOCUMENTS_MIGRATIONS];
const clock = { now: () => new Date('2026-12-02T09:00:00.000Z') };
const config = { timeZone: 'Europe/Madrid' };
const cipher = new AesGcmDocumentCipher(randomBytes(32));
const MRZ = 'I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<';

/** Valid DNI numbers 10000000+i with their letters. */
const dni = (i: number) => {
  const digits = String(10_000_000 + i);
  return digits + 'TRWAGMYFPDXBNJZSQVHLCKE'.charAt(Number(digits) % 23);
};

function input(i: number, over: Partial<SubmitDocumentInput> = {}): SubmitDocumentInput {
  return {
    guest_id: `g-${i}`,
    document_type: 'dni',
    number: dni(i),
    issuing_country: 'ESP',
    expires_on: '2031-05-20',
    birth_date: '1980-01-01',
    command_id: newEventId(),
    ...over,
  };
}

/** Every row of every table of the database as text (what a backup or a curious operator would see). */
async function everything(db: SqlDatabase): Promise<string> {
  const { rows } = await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
  let all = '';
  for (const { table_name } of rows) {
    const dump = await db.query<{ t: string }>(`SELECT row_to_json(x)::text AS t FROM "${table_name}" x`);
    all += dump.rows.map((r) => r.t).join('\n');
  }
  return all;
}

export function postgresDocumentsSuite(label: string, open: () => Promise<TestDatabase>, openSecond?: () => SqlDatabase): void {
  let handle: TestDatabase | undefined;
  const db = (): SqlDatabase => {
    if (!handle) throw new Error('the test database is not open');
    return handle.db;
  };
  const deps = (d: SqlDatabase = db()) => ({
    repo: new PgDocumentRepository(d),
    queries: new PgDocumentQueries(d),
    clock,
    ids: newEventId,
    cipher,
    config,
  });
  const outbox = async (): Promise<EventEnvelope[]> =>
    (await db().query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id')).rows.map((r) => r.envelope);

  before(async () => {
    handle = await open();
    await migrate(db(), ALL_MIGRATIONS);
  });
  after(async () => {
    await handle?.dispose();
  });
  beforeEach(async () => {
    await db().exec('TRUNCATE documents, document_views, outbox_events');
  });

  test(`${label}: migrations — documents' from version 100; a second run changes nothing`, async () => {
    assert.deepEqual(await migrate(db(), ALL_MIGRATIONS), { applied: [], skipped: ALL_MIGRATIONS.map((m) => m.version) });
  });

  test(`${label}: submit → pending view; validate → the view, one outbox event; the number and MRZ nowhere in clear`, async () => {
    const good = await submitDocument(deps(), input(1, { booking_id: 'bk-1', mrz: MRZ }));
    const bad = await submitDocument(deps(), input(2, { number: '12345678A', birth_date: '2015-01-01' }));
    assert.ok(good.ok && bad.ok);
    const { correlation_id: _c, ...pendingView } = good.value;
    assert.deepEqual(await getDocument(deps(), good.value.document_id), pendingView);
    assert.deepEqual(await validatePendingDocuments(deps()), { validated: 0, rejected: 2, failed: 0 });
    const events = await outbox();
    assert.deepEqual(
      events.map((e) => [e.aggregate_id, e.event_type]),
      [
        [good.value.document_id, 'DocumentRejected'],
        [bad.value.document_id, 'DocumentRejected'],
      ],
    );
    const goodView = await getDocument(deps(), good.value.document_id);
    assert.equal(goodView?.status, 'rejected');
    // the MRZ is the ICAO specimen's, not this guest's
    assert.deepEqual(goodView.reasons, ['mrz_mismatch_number', 'mrz_mismatch_birth_date', 'mrz_mismatch_expiry', 'mrz_mismatch_country']);
    assert.equal(goodView.booking_id, 'bk-1');
    assert.equal(goodView.decided_at, clock.now().toISOString());
    assert.deepEqual((await getDocument(deps(), bad.value.document_id))?.reasons, ['dni_check_letter_mismatch', 'minor_without_guardian']);
    const { rows } = await db().query<{ mrz_sealed: string | null }>('SELECT mrz_sealed FROM documents');
    assert.ok(
      rows.every((r) => r.mrz_sealed === null),
      'the MRZ is dropped once decided',
    );
    const dump = await everything(db());
    for (const secret of [dni(1), '12345678A', 'D23145890', 'ERIKSSON']) assert.ok(!dump.includes(secret), `${secret} stored in clear`);
    assert.equal(await getDocument(deps(), 'no-such-document'), undefined);
    assert.deepEqual(await listBookingDocuments(deps(), 'bk-1'), [goodView]);
    assert.deepEqual(await listBookingDocuments(deps(), 'no-such-booking'), []);
  });

  if (openSecond) {
    test(`${label}: 60 documents, 6 validators on two connection pools racing → each decided once, one event each`, async () => {
      const second = openSecond();
      try {
        for (let i = 0; i < 60; i++) assert.ok((await submitDocument(deps(), input(100 + i))).ok);
        const runs = await Promise.all([db(), second, db(), second, db(), second].map((d) => validatePendingDocuments(deps(d))));
        assert.equal(
          runs.reduce((s, r) => s + r.validated, 0),
          60,
        );
        assert.ok(runs.every((r) => r.failed === 0));
        const events = await outbox();
        assert.equal(events.length, 60);
        assert.equal(new Set(events.map((e) => e.aggregate_id)).size, 60);
        const { rows } = await db().query<{ n: number }>(`SELECT count(*)::int AS n FROM documents WHERE status = 'validated'`);
        assert.equal(rows[0]?.n, 60);
      } finally {
        await second.close();
      }
    });
  }
}
