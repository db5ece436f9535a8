export { auditDeclaration } from './declaration.js';
export { createAuditService, brokerFromEnv } from './service.js';
export type { AuditServiceOptions } from './service.js';
export { AUDIT_MIGRATIONS } from './adapters/postgres/migrations.js';
export { PgAuditStore } from './adapters/postgres/pg-audit-store.js';
export { flowTree, causalOrder } from './domain/flow-tree.js';
export type * from './application/ports.js';
export type { EventPage, FlowEventView, FlowView } from './application/queries.js';
