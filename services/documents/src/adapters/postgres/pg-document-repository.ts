// DocumentRepository / DocumentTransaction on Postgres (pg or PGlite, through @albergue/outbox's
// SqlDatabase port). Tables: DOCUMENTS_MIGRATIONS. A document, its query projection and its outbox rows
// are written in one transaction.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import { Outbox } from '@albergue/outbox';
import type { DocumentRecord, DocumentRepository, DocumentTransaction } from '../../application/ports.js';
import { DocumentConflictError } from '../../application/ports.js';
import { documentView } from '../../application/support.js';

interface DocumentRow {
  [column: string]: unknown;
  state: DocumentRecord['state'];
  number_sealed: string;
  mrz_sealed: string | null;
  key_id: string;
  decision_event_id: string;
  correlation_id: string;
  causation_id: string;
}

const COLUMNS = 'state, number_sealed, mrz_sealed, key_id, decision_event_id, correlation_id, causation_id';

function toRecord(r: DocumentRow): DocumentRecord {
  return {
    state: r.state,
    number_sealed: r.number_sealed,
    ...(r.mrz_sealed === null ? {} : { mrz_sealed: r.mrz_sealed }),
    key_id: r.key_id,
    decision_event_id: r.decision_event_id,
    correlation_id: r.correlation_id,
    causation_id: r.causation_id,
  };
}

/**
 *   const repo = new PgDocumentRepository(db, outbox);
 *   await submitDocument({ repo, … }, input);
 *   await validatePendingDocuments({ repo, … });
 */
export class PgDocumentRepository implements DocumentRepository {
  constructor(
    private readonly db: SqlDatabase,
    private readonly outbox: Outbox = new Outbox(db),
  ) {}

  transaction<T>(work: (tx: DocumentTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(this.forTransaction(tx)));
  }

  /** The transaction port on a transaction that is already open: commit and rollback stay the caller's. */
  forTransaction(tx: SqlTransaction): DocumentTransaction {
    return new PgDocumentTransaction(tx, this.outbox);
  }
}

class PgDocumentTransaction implements DocumentTransaction {
  constructor(
    private readonly tx: SqlTransaction,
    private readonly outbox: Outbox,
  ) {}

  async insert(record: DocumentRecord): Promise<void> {
    const inserted = await this.tx.query(
      `INSERT INTO documents (document_id, status, ${COLUMNS}, submitted_at)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10::timestamptz)
       ON CONFLICT (document_id) DO NOTHING RETURNING 1 AS inserted`,
      [
        record.state.facts.document_id,
        record.state.status,
        JSON.stringify(record.state),
        record.number_sealed,
        record.mrz_sealed ?? null,
        record.key_id,
        record.decision_event_id,
        record.correlation_id,
        record.causation_id,
        record.state.facts.submitted_at,
      ],
    );
    if (inserted.rows.length !== 1) throw new DocumentConflictError(`document ${record.state.facts.document_id} exists`);
    await saveView(this.tx, record);
  }

  async claimPending(skip: readonly string[]): Promise<DocumentRecord | undefined> {
    const { rows } = await this.tx.query<DocumentRow>(
      `SELECT ${COLUMNS} FROM documents
       WHERE status = 'pending' AND NOT (document_id = ANY($1::text[]))
       ORDER BY submitted_at, document_id LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [[...skip]],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async update(record: DocumentRecord): Promise<void> {
    const id = record.state.facts.document_id;
    const updated = await this.tx.query(
      `UPDATE documents SET status = $2, state = $3::jsonb, number_sealed = $4, mrz_sealed = $5, key_id = $6, updated_at = now()
       WHERE document_id = $1`,
      [id, record.state.status, JSON.stringify(record.state), record.number_sealed, record.mrz_sealed ?? null, record.key_id],
    );
    if (updated.rowCount !== 1) throw new DocumentConflictError(`document ${id} disappeared`);
    await saveView(this.tx, record);
  }

  async appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void> {
    await this.outbox.append(this.tx, envelopes);
  }
}

/** Upserts the query projection of one document. */
async function saveView(tx: SqlExecutor, record: DocumentRecord): Promise<void> {
  const v = documentView(record.state);
  await tx.query(
    `INSERT INTO document_views (document_id, guest_id, booking_id, document_type, document_number_masked, issuing_country,
       expires_on, status, reasons, submitted_at, decided_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)
     ON CONFLICT (document_id) DO UPDATE SET status = EXCLUDED.status, reasons = EXCLUDED.reasons, decided_at = EXCLUDED.decided_at`,
    [
      v.document_id,
      v.guest_id,
      v.booking_id ?? null,
      v.document_type,
      v.document_number_masked,
      v.issuing_country,
      v.expires_on,
      v.status,
      JSON.stringify(v.reasons),
      v.submitted_at,
      v.decided_at ?? null,
    ],
  );
}
