export type { EmbeddedPostgresOptions } from './embedded-postgres.js';
export { EmbeddedPostgres, postgresBinaries } from './embedded-postgres.js';
