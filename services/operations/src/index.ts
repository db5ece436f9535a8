// @albergue/operations: the operations read model (projections kept from events, rebuilt from the audit trail).
export * from './domain/projection.js';
export * from './domain/operations-projections.js';
export * from './application/ports.js';
export * from './application/apply-event.js';
export * from './application/live-sync.js';
export * from './application/queries.js';
export * from './application/rebuild.js';
export { PgProjectionStore, PgProjectionTransaction, shadowOf } from './adapters/postgres/pg-projection-store.js';
export { OPERATIONS_MIGRATIONS } from './adapters/postgres/migrations.js';
export { RedisLiveStore } from './adapters/redis/redis-live-store.js';
export { MemoryLiveStore } from './adapters/memory/memory-live-store.js';
export { HttpEventHistory } from './adapters/history/http-event-history.js';
export { MemoryEventHistory } from './adapters/history/memory-event-history.js';
export { startAuditStandIn } from './adapters/history/audit-stand-in.js';
export type { AuditStandIn } from './adapters/history/audit-stand-in.js';
export { operationsRoutes } from './adapters/http/routes.js';
export { runRebuildCli } from './rebuild-cli.js';
