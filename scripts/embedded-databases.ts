// The database engine of the embedded mode (`npm start`), chosen here in the composition root and
// handed to every service as its `<SERVICE>_DATABASE_URL`, so the runtime only ever sees a Postgres URL
// (or none: PGlite) and knows nothing of the other services.
//
// EMBEDDED_DB=postgres (default): one real Postgres server under DATA_DIR/postgres, a database
// `albergue_<service>` per service (@albergue/embedded). EMBEDDED_DB=pglite: each service on its own
// PGlite under DATA_DIR/<service>, as before (≈ 300 MB per service; also the fallback on a platform
// without Postgres binaries). A service whose `<SERVICE>_DATABASE_URL` (or `DATABASE_URL`) is set keeps
// it. With NODE_ENV=production nothing embedded is provided (the services then refuse to start without
// their URLs).
import { join } from 'node:path';
import { EmbeddedPostgres, databaseName, postgresBinaries } from '@albergue/embedded';
import type { Logger } from '@albergue/platform';
import { ConfigError, envOptional } from '@albergue/platform';

type Env = Record<string, string | undefined>;

export interface EmbeddedEngine {
  /** `postgres`, `pglite`, or `none` (production, or `DATABASE_URL` set for all). */
  readonly engine: 'postgres' | 'pglite' | 'none';
  /**
   * The variables to add to the services' environment: `<SERVICE>_DATABASE_URL` of a database made
   * for each service that has no URL of its own (`envPrefix` is the runtime's naming of a service's variables).
   */
  databases(services: readonly string[], envPrefix: (service: string) => string): Promise<Record<string, string>>;
  /** Where a service's data lives, for the start-up banner. */
  describe(service: string): string;
  /** Stops the embedded server (after the services closed); idempotent. */
  stop(): Promise<void>;
}

export { databaseName };

/**
 * Starts the embedded engine when one is wanted. It knows no service: `npm start` calls it before it
 * even loads the services' code, so initdb and the server's start (other processes) overlap that.
 */
export async function startEmbeddedEngine(o: {
  readonly dataDir: string;
  readonly env: Env;
  readonly logger: Logger;
}): Promise<EmbeddedEngine> {
  const wanted = envOptional('EMBEDDED_DB', o.env) ?? 'postgres';
  if (wanted !== 'postgres' && wanted !== 'pglite') throw new ConfigError(`EMBEDDED_DB must be postgres or pglite, got "${wanted}"`);
  const made = new Map<string, string>();
  const none = o.env.NODE_ENV === 'production' || envOptional('DATABASE_URL', o.env) !== undefined;
  const pglite: EmbeddedEngine = {
    engine: none ? 'none' : 'pglite',
    databases: () => Promise.resolve({}),
    describe: (s) => (none ? 'postgres' : join(o.dataDir, s)),
    stop: () => Promise.resolve(),
  };
  if (none || wanted === 'pglite') return pglite;
  if (!(await postgresBinaries())) {
    o.logger.warn(`no embedded Postgres binaries for ${process.platform}-${process.arch}: each service runs on its own PGlite`);
    return pglite;
  }
  const dir = join(o.dataDir, 'postgres');
  const server = await EmbeddedPostgres.start({ dir, logger: o.logger });
  return {
    engine: 'postgres',
    async databases(services, envPrefix) {
      const missing = services.filter((s) => envOptional(`${envPrefix(s)}_DATABASE_URL`, o.env) === undefined);
      const urls = await server.databases(missing.map(databaseName));
      for (const s of missing) made.set(s, `${envPrefix(s)}_DATABASE_URL`);
      return Object.fromEntries(missing.map((s) => [`${envPrefix(s)}_DATABASE_URL`, urls[databaseName(s)]!]));
    },
    describe: (s) => (made.has(s) ? `${server.dir} (database ${databaseName(s)})` : 'postgres'),
    stop: () => server.stop(),
  };
}
