// @albergue/location: albergues and their beds.
export * from './domain/albergue.js';
export * from './domain/seed.js';
export * from './application/ports.js';
export { albergueView } from './application/support.js';
export * from './application/register-albergue.js';
export * from './application/change-capacity.js';
export * from './application/seed-albergues.js';
export * from './application/queries.js';
export { MemoryAlbergueStore } from './adapters/memory/memory-albergue-store.js';
export { PgAlbergueRepository } from './adapters/postgres/pg-albergue-repository.js';
export { PgAlbergueQueries } from './adapters/postgres/pg-albergue-queries.js';
export { LOCATION_MIGRATIONS } from './adapters/postgres/migrations.js';
export { locationRoutes, statusOf as locationErrorStatus } from './adapters/http/routes.js';
export type { LocationHttpDeps } from './adapters/http/routes.js';
