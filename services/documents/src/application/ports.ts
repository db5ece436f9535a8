// The ports documents' application layer needs. The Postgres adapter implements DocumentRepository and
// DocumentTransaction on one SqlExecutor shared with the outbox append.
import type { OutboxWriter } from '@albergue/application';
import type { DocumentState } from '../domain/document.js';

export type { Clock, IdGenerator } from '@albergue/application';

export interface DocumentsConfig {
  /** Where "today" is decided for ages and expiry (default Europe/Madrid: the albergues are in Spain). */
  readonly timeZone: string;
}

export const DEFAULT_DOCUMENTS_CONFIG: DocumentsConfig = { timeZone: 'Europe/Madrid' };

/**
 * Authenticated encryption of the document number and the MRZ (AES-256-GCM in production), and a keyed
 * hash for comparing requests without keeping the number. `context` binds a sealed value to its row
 * and field (additional authenticated data): a value copied to another row or field does not open.
 */
export interface DocumentCipher {
  /** Identifies the key (not the key): stored with each sealed value. */
  readonly keyId: string;
  seal(plaintext: string, context: string): string;
  /** Throws when the value was not sealed by this key for this context (tampered, moved, wrong key). */
  open(sealed: string, context: string): string;
  /** A keyed hash (HMAC) of `text`: equal texts give equal hashes, and it cannot be reversed without the key. */
  blindIndex(text: string): string;
}

/** A submitted document as stored: its state (no number in it) and the sealed number and MRZ. */
export interface DocumentRecord {
  readonly state: Exclude<DocumentState, { status: 'none' }>;
  /** The full number, sealed by the DocumentCipher (kept: a hostel must produce it to the authorities). */
  readonly number_sealed: string;
  /** The MRZ, sealed; dropped once the document is decided (it was only needed to check it). */
  readonly mrz_sealed?: string;
  readonly key_id: string;
  /** Metadata of the decision event, fixed at submission: its id, flow and cause (the submitting command). */
  readonly decision_event_id: string;
  readonly correlation_id: string;
  readonly causation_id: string;
}

/** `insert` lost a race: a document with this id exists. */
export class DocumentConflictError extends Error {
  readonly code = 'document_conflict';
  constructor(message: string) {
    super(message);
    this.name = 'DocumentConflictError';
  }
}

export interface DocumentRepository {
  /** Runs `work` in one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: DocumentTransaction) => Promise<T>): Promise<T>;
}

export interface DocumentTransaction extends OutboxWriter {
  /** Inserts a new document (and its query projection); DocumentConflictError when the id is taken. */
  insert(record: DocumentRecord): Promise<void>;
  /**
   * The oldest pending document not in `skip`, locked until commit; documents another transaction
   * holds are skipped (`FOR UPDATE SKIP LOCKED`), so instances never validate the same one at once.
   */
  claimPending(skip: readonly string[]): Promise<DocumentRecord | undefined>;
  /** Updates a document this transaction claimed (and its projection). */
  update(record: DocumentRecord): Promise<void>;
}

export interface DocumentView {
  readonly document_id: string;
  readonly guest_id: string;
  readonly booking_id?: string;
  readonly document_type: string;
  readonly document_number_masked: string;
  readonly issuing_country: string;
  readonly expires_on: string;
  readonly status: 'pending' | 'validated' | 'rejected';
  readonly reasons: readonly string[];
  readonly submitted_at: string;
  readonly decided_at?: string;
}

/** Read side (the projection only). */
export interface DocumentQueries {
  findDocument(documentId: string): Promise<DocumentView | undefined>;
  /** The documents submitted for a booking, oldest first (every guest's, every attempt). */
  listByBooking(bookingId: string): Promise<DocumentView[]>;
}
