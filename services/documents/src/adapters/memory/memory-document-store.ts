// In-memory DocumentRepository + DocumentQueries: transactions run one at a time and roll back on a
// throw. For tests and for running documents without a database; the Postgres adapter is the real one.
import type { EventEnvelope } from '@albergue/events';
import type { DocumentQueries, DocumentRecord, DocumentRepository, DocumentTransaction, DocumentView } from '../../application/ports.js';
import { DocumentConflictError } from '../../application/ports.js';
import { documentView } from '../../application/support.js';

export class MemoryDocumentStore implements DocumentRepository, DocumentQueries {
  private documents = new Map<string, DocumentRecord>();
  private appended: EventEnvelope[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  /** Every envelope appended to the outbox, in commit order. */
  get outbox(): readonly EventEnvelope[] {
    return this.appended;
  }

  /** The stored record of a document (tests: what is kept, sealed). */
  record(documentId: string): DocumentRecord | undefined {
    return this.documents.get(documentId);
  }

  transaction<T>(work: (tx: DocumentTransaction) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const documents = new Map(this.documents);
      const appended = [...this.appended];
      try {
        return await work(this.tx());
      } catch (err) {
        this.documents = documents;
        this.appended = appended;
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  findDocument(documentId: string): Promise<DocumentView | undefined> {
    const r = this.documents.get(documentId);
    return Promise.resolve(r && documentView(r.state));
  }

  listByBooking(bookingId: string): Promise<DocumentView[]> {
    const views = [...this.documents.values()]
      .filter((r) => r.state.facts.booking_id === bookingId)
      .map((r) => documentView(r.state))
      .sort((a, b) => a.submitted_at.localeCompare(b.submitted_at) || a.document_id.localeCompare(b.document_id));
    return Promise.resolve(views);
  }

  private tx(): DocumentTransaction {
    const claimed = new Set<string>();
    return {
      insert: (record) => {
        const id = record.state.facts.document_id;
        if (this.documents.has(id)) return Promise.reject(new DocumentConflictError(`document ${id} exists`));
        this.documents.set(id, record);
        return Promise.resolve();
      },
      claimPending: (skip) => {
        const pending = [...this.documents.values()]
          .filter((r) => r.state.status === 'pending' && !skip.includes(r.state.facts.document_id))
          .sort(
            (a, b) =>
              a.state.facts.submitted_at.localeCompare(b.state.facts.submitted_at) ||
              a.state.facts.document_id.localeCompare(b.state.facts.document_id),
          )[0];
        if (pending) claimed.add(pending.state.facts.document_id);
        return Promise.resolve(pending);
      },
      update: (record) => {
        const id = record.state.facts.document_id;
        if (!claimed.has(id) || !this.documents.has(id)) return Promise.reject(new DocumentConflictError(`document ${id} was not claimed`));
        this.documents.set(id, record);
        return Promise.resolve();
      },
      appendToOutbox: (envelopes) => {
        this.appended.push(...envelopes);
        return Promise.resolve();
      },
    };
  }
}
