export type { EmbeddedPostgresOptions } from './embedded-postgres.js';
export { EmbeddedPostgres, linkLibraries, postgresBinaries } from './embedded-postgres.js';
