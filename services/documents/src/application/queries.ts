import type { DocumentQueries, DocumentView } from './ports.js';

export function getDocument(deps: { readonly queries: DocumentQueries }, documentId: string): Promise<DocumentView | undefined> {
  return deps.queries.findDocument(documentId);
}
