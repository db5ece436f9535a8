// @albergue/location: albergues and their beds.
export * from './domain/albergue';
export * from './domain/seed';
export * from './application/ports';
export { albergueView } from './application/support';
export * from './application/register-albergue';
export * from './application/change-capacity';
export * from './application/seed-albergues';
export * from './application/queries';
export { MemoryAlbergueStore } from './adapters/memory/memory-albergue-store';
export { PgAlbergueRepository } from './adapters/postgres/pg-albergue-repository';
export { PgAlbergueQueries } from './adapters/postgres/pg-albergue-queries';
export { LOCATION_MIGRATIONS } from './adapters/postgres/migrations';
export { locationRoutes, statusOf as locationErrorStatus } from './adapters/http/routes';
export type { LocationHttpDeps } from './adapters/http/routes';
