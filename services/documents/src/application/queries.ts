import type { DocumentQueries, DocumentView } from './ports.js';

export function listBookingDocuments(deps: { readonly queries: DocumentQueries }, bookingId: string): Promise<DocumentView[]> {
  return deps.queries.listByBooking(bookingId);
}

export function getDocument(deps: { readonly queries: DocumentQueries }, documentId: string): Promise<DocumentView | undefined> {
  return deps.queries.findDocument(documentId);
}
