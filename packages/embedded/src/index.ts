export type { EmbeddedPostgresOptions } from './embedded-postgres.js';
export { EmbeddedPostgres, databaseName, linkLibraries, postgresBinaries } from './embedded-postgres.js';
