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
import { EmbeddedPostgres, postgresBinaries } from '@albergue/embedded';
import type { Logger } from '@albergue/platform';
import { ConfigError, envOptional } from '@albergue/platform';
import { serviceEnvPrefix } from '@albergue/runtime';

type Env = Record<string, string | undefined>;

export interface EmbeddedDatabases {
  /** `postgres`, `pglite`, or `none` (production, or every service has its URL). */
  readonly engine: 'postgres' | 'pglite' | 'none';
  /** The variables to add to the services' environment (`<SERVICE>_DATABASE_URL`). */
  readonly env: Readonly<Record<string, string>>;
  /** Where a service's data lives, for the start-up banner. */
  describe(service: string, dataDir: string): string;
  /** Stops the embedded server (after the services closed); idempotent. */
  stop(): Promise<void>;
}

export const databaseName = (service: string): string => `albergue_${service.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;

/** Starts the embedded engine (when one is wanted) and creates a database for each of `services` that has no URL. */
export async function embeddedDatabases(o: {
  readonly dataDir: string;
  readonly services: readonly string[];
  readonly env: Env;
  readonly logger: Logger;
}): Promise<EmbeddedDatabases> {
  const wanted = envOptional('EMBEDDED_DB', o.env) ?? 'postgres';
  if (wanted !== 'postgres' && wanted !== 'pglite') throw new ConfigError(`EMBEDDED_DB must be postgres or pglite, got "${wanted}"`);
  const own = (s: string) => envOptional(`${serviceEnvPrefix(s)}_DATABASE_URL`, o.env) ?? envOptional('DATABASE_URL', o.env);
  const missing = o.services.filter((s) => own(s) === undefined);
  const pglite: EmbeddedDatabases = {
    engine: missing.length === 0 || o.env.NODE_ENV === 'production' ? 'none' : 'pglite',
    env: {},
    describe: (s, dataDir) => (own(s) ? 'postgres' : join(dataDir, s)),
    stop: () => Promise.resolve(),
  };
  if (pglite.engine === 'none' || wanted === 'pglite') return pglite;
  if (!(await postgresBinaries())) {
    o.logger.warn(`no embedded Postgres binaries for ${process.platform}-${process.arch}: each service runs on its own PGlite`);
    return pglite;
  }
  const dir = join(o.dataDir, 'postgres');
  const server = await EmbeddedPostgres.start({ dir, logger: o.logger });
  try {
    const urls = await server.databases(missing.map(databaseName));
    const env = Object.fromEntries(missing.map((s) => [`${serviceEnvPrefix(s)}_DATABASE_URL`, urls[databaseName(s)]!]));
    return {
      engine: 'postgres',
      env,
      describe: (s) => (env[`${serviceEnvPrefix(s)}_DATABASE_URL`] ? `${dir} (database ${databaseName(s)})` : 'postgres'),
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
