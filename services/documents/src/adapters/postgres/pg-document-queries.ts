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

const SELECT = `SELECT document_id, guest_id, booking_id, document_type, document_number_masked, issuing_country, expires_on,
  status, reasons, submitted_at, decided_at FROM document_views`;

export class PgDocumentQueries implements DocumentQueries {
  constructor(private readonly db: SqlExecutor) {}

  async findDocument(documentId: string): Promise<DocumentView | undefined> {
    const { rows } = await this.db.query<ViewRow>(`${SELECT} WHERE document_id = $1`, [documentId]);
    return rows[0] && toView(rows[0]);
  }

  async listByBooking(bookingId: string): Promise<DocumentView[]> {
    const { rows } = await this.db.query<ViewRow>(`${SELECT} WHERE booking_id = $1 ORDER BY submitted_at, document_id`, [bookingId]);
    return rows.map(toView);
  }
}

function toView(r: ViewRow): DocumentView {
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
