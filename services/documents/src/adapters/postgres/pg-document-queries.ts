// DocumentQueries on Postgres: reads the document_views projection only.
import type { SqlExecutor } from '@albergue/outbox';
import type { DocumentQueries, DocumentView } from '../../application/ports.js';

interface ViewRow {
  [column: string]: unknown;
  document_id: string;
  guest_id: string;
  booking_id: string | null;
  document_type: string;
  document_number_masked: string;
  issuing_country: string;
  expires_on: string;
  status: DocumentView['status'];
  reasons: string[];
  submitted_at: string;
  decided_at: string | null;
}

export class PgDocumentQueries implements DocumentQueries {
  constructor(private readonly db: SqlExecutor) {}

  async findDocument(documentId: string): Promise<DocumentView | undefined> {
    const { rows } = await this.db.query<ViewRow>(
      `SELECT document_id, guest_id, booking_id, document_type, document_number_masked, issuing_country, expires_on, status,
         reasons, submitted_at, decided_at FROM document_views WHERE document_id = $1`,
      [documentId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      document_id: r.document_id,
      guest_id: r.guest_id,
      ...(r.booking_id === null ? {} : { booking_id: r.booking_id }),
      document_type: r.document_type,
      document_number_masked: r.document_number_masked,
      issuing_country: r.issuing_country,
      expires_on: r.expires_on,
      status: r.status,
      reasons: r.reasons,
      submitted_at: r.submitted_at,
      ...(r.decided_at === null ? {} : { decided_at: r.decided_at }),
    };
  }
}
