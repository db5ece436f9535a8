// Documents' application handlers on the in-memory store: submit (sealed, pending, no event), the
// validator (one decision and one event per document, its flow and cause), failures and crashes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, test } from 'node:test';
import { newEventId } from '@albergue/events';
import { AesGcmDocumentCipher } from '../adapters/crypto/aes-gcm-document-cipher.js';
import { MemoryDocumentStore } from '../adapters/memory/memory-document-store.js';
import type { DocumentRepository } from './ports.js';
import { getDocument, listBookingDocuments } from './queries.js';
import type { SubmitDocumentInput } from './submit-document.js';
import { submitDocument } from './submit-document.js';
import { validatePendingDocuments } from './validate-documents.js';

const NOW = new Date('2026-12-02T09:00:00.000Z');
const clock = { now: () => NOW };
const config = { timeZone: 'Europe/Madrid' };
let n = 0;
const ids = () => `id-${String(++n).padStart(6, '0')}`; // ordered like UUIDv7s
let store: MemoryDocumentStore;
let cipher: AesGcmDocumentCipher;
const deps = (repo: DocumentRepository = store) => ({ repo, queries: store, clock, ids, cipher, config });

const MRZ = 'I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<';

function input(over: Partial<SubmitDocumentInput> = {}): SubmitDocumentInput {
  return {
    guest_id: 'g-1',
    booking_id: 'bk-1',
    document_type: 'dni',
    number: '12345678Z',
    issuing_country: 'ESP',
    expires_on: '2031-05-20',
    birth_date: '1980-01-01',
    command_id: newEventId(),
    ...over,
  };
}

beforeEach(() => {
  store = new MemoryDocumentStore();
  cipher = new AesGcmDocumentCipher(randomBytes(32));
});

describe('documents application', () => {
  test('submit → pending, masked, nothing published; the number and the MRZ are kept sealed only', async () => {
    const r = await submitDocument(deps(), input({ mrz: MRZ }));
    assert.ok(r.ok);
    assert.equal(r.value.status, 'pending');
    assert.equal(r.value.document_number_masked, '*****678Z');
    assert.deepEqual(r.events, []);
    assert.deepEqual(store.outbox, []);
    const record = store.record(r.value.document_id);
    assert.ok(record?.mrz_sealed);
    const stored = JSON.stringify(record);
    assert.ok(!stored.includes('12345678') && !stored.includes('D23145890'), stored);
    assert.equal(cipher.open(record.number_sealed, `document:${r.value.document_id}:number`), '12345678Z');
    const { correlation_id: _flow, ...view } = r.value;
    assert.deepEqual(await getDocument(deps(), r.value.document_id), view);
  });

  test('validate → one DocumentValidated: its event id and flow fixed at submission, caused by the command; the MRZ dropped', async () => {
    const cmd = input();
    const r = await submitDocument(deps(), cmd);
    assert.ok(r.ok);
    const run = await validatePendingDocuments(deps());
    assert.deepEqual(run, { validated: 1, rejected: 0, failed: 0 });
    const [e] = store.outbox;
    assert.equal(e?.event_type, 'DocumentValidated');
    assert.equal(e.correlation_id, r.value.correlation_id);
    assert.equal(e.event_id, r.value.correlation_id); // a new flow is named by its first event
    assert.equal(e.causation_id, cmd.command_id);
    assert.deepEqual(e.payload, {
      document_id: r.value.document_id,
      guest_id: 'g-1',
      booking_id: 'bk-1',
      document_type: 'dni',
      document_number_masked: '*****678Z',
      issuing_country: 'ESP',
      expires_on: '2031-05-20',
      validated_at: NOW.toISOString(),
    });
    const view = await getDocument(deps(), r.value.document_id);
    assert.equal(view?.status, 'validated');
    assert.equal(view.decided_at, NOW.toISOString());
    assert.deepEqual(await validatePendingDocuments(deps()), { validated: 0, rejected: 0, failed: 0 });
    assert.equal(store.outbox.length, 1);
  });

  test('a flow named by the request (x-correlation-id) is the flow of the decision', async () => {
    const flow = '0192f0c4-7b5e-7cc2-9a41-2f6a2b3c4d5e';
    const r = await submitDocument(deps(), input({ correlation_id: flow }));
    assert.ok(r.ok && r.value.correlation_id === flow);
    await validatePendingDocuments(deps());
    assert.equal(store.outbox[0]?.correlation_id, flow);
  });

  test('a bad document → DocumentRejected with every reason; the view answers them', async () => {
    const r = await submitDocument(deps(), input({ number: '12345678A', expires_on: '2020-01-01', mrz: MRZ }));
    assert.ok(r.ok);
    assert.deepEqual(await validatePendingDocuments(deps()), { validated: 0, rejected: 1, failed: 0 });
    const [e] = store.outbox;
    assert.equal(e?.event_type, 'DocumentRejected');
    const reasons = (e.payload as { reasons: string[] }).reasons;
    assert.deepEqual(reasons, [
      'dni_check_letter_mismatch',
      'document_expired',
      'mrz_mismatch_number',
      'mrz_mismatch_birth_date',
      'mrz_mismatch_expiry',
      'mrz_mismatch_country',
    ]);
    const view = await getDocument(deps(), r.value.document_id);
    assert.equal(view?.status, 'rejected');
    assert.deepEqual(view.reasons, reasons);
    assert.equal(store.record(r.value.document_id)?.mrz_sealed, undefined);
  });

  test('oldest first, each once; a document that does not open (another key) stays pending and does not block the others', async () => {
    const a = await submitDocument(deps(), input());
    const other = { ...deps(), cipher: new AesGcmDocumentCipher(randomBytes(32)) };
    const b = await submitDocument(other, input({ guest_id: 'g-2' }));
    const c = await submitDocument(deps(), input({ guest_id: 'g-3' }));
    assert.ok(a.ok && b.ok && c.ok);
    const failed: string[] = [];
    const run = await validatePendingDocuments({ ...deps(), onFailed: (id) => failed.push(id) });
    assert.deepEqual(run, { validated: 2, rejected: 0, failed: 1 });
    assert.deepEqual(failed, [b.value.document_id]);
    assert.deepEqual(
      store.outbox.map((e) => e.aggregate_id),
      [a.value.document_id, c.value.document_id],
    );
    assert.equal((await getDocument(deps(), b.value.document_id))?.status, 'pending');
    assert.deepEqual(await validatePendingDocuments(other), { validated: 1, rejected: 0, failed: 0 });
  });

  test('a crash before the decision commits (the outbox append fails) → nothing stored; the next run decides it once', async () => {
    const r = await submitDocument(deps(), input());
    assert.ok(r.ok);
    const crashing: DocumentRepository = {
      transaction: (work) =>
        store.transaction((tx) =>
          work({
            ...tx,
            appendToOutbox: () => Promise.reject(new Error('process died')),
            update: (x) => tx.update(x),
            claimPending: (s) => tx.claimPending(s),
            insert: (x) => tx.insert(x),
          }),
        ),
    };
    const crashed = await validatePendingDocuments({ ...deps(crashing), onFailed: () => undefined });
    assert.deepEqual(crashed, { validated: 0, rejected: 0, failed: 1 });
    assert.equal((await getDocument(deps(), r.value.document_id))?.status, 'pending');
    assert.deepEqual(store.outbox, []);
    assert.deepEqual(await validatePendingDocuments(deps()), { validated: 1, rejected: 0, failed: 0 });
    assert.equal(store.outbox.length, 1);
  });

  test("a booking's documents: every guest's, oldest first; none → empty", async () => {
    const a = await submitDocument(deps(), input({ guest_id: 'g-a' }));
    const b = await submitDocument(deps(), input({ guest_id: 'g-b' }));
    assert.ok((await submitDocument(deps(), input({ booking_id: 'bk-2' }))).ok);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(
      (await listBookingDocuments(deps(), 'bk-1')).map((v) => v.guest_id),
      ['g-a', 'g-b'],
    );
    assert.deepEqual(await listBookingDocuments(deps(), 'bk-9'), []);
  });

  test('many documents: a run decides up to its limit, the next the rest', async () => {
    for (let i = 0; i < 5; i++) assert.ok((await submitDocument(deps(), input({ guest_id: `g-${i}` }))).ok);
    assert.equal((await validatePendingDocuments(deps(), 3)).validated, 3);
    assert.equal((await validatePendingDocuments(deps(), 3)).validated, 2);
    assert.equal(new Set(store.outbox.map((e) => e.aggregate_id)).size, 5);
  });
});
