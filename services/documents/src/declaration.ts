import { DocumentRejected, DocumentValidated } from '@albergue/events';
import { declareService } from '@albergue/messaging';

/** What documents publishes (it subscribes to nothing: documents come in over HTTP). */
export const documentsDeclaration = declareService({
  service: 'documents',
  context: 'documents',
  publishes: [DocumentValidated, DocumentRejected],
  subscribes: [],
});
