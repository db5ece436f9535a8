// @albergue/documents: guests' identity documents.
export * from './domain/document.js';
export * from './domain/identity-numbers.js';
export * from './domain/mrz.js';
export * from './application/ports.js';
export { documentView } from './application/support.js';
export * from './application/submit-document.js';
export * from './application/validate-documents.js';
export * from './application/queries.js';
export { MemoryDocumentStore } from './adapters/memory/memory-document-store.js';
export { PgDocumentRepository } from './adapters/postgres/pg-document-repository.js';
export { PgDocumentQueries } from './adapters/postgres/pg-document-queries.js';
export { DOCUMENTS_MIGRATIONS } from './adapters/postgres/migrations.js';
export {
  AesGcmDocumentCipher,
  DEV_DOCUMENTS_ENCRYPTION_KEY,
  encryptionKeyFromEnv,
  parseEncryptionKey,
} from './adapters/crypto/aes-gcm-document-cipher.js';
export { documentsRoutes, statusOf as documentsErrorStatus } from './adapters/http/routes.js';
export type { DocumentsHttpDeps } from './adapters/http/routes.js';
