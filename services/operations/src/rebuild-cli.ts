// `npm run projections:rebuild -- <name>|all`: rebuilds projections from the audit trail (AUDIT_URL,
// GET /audit/events) into the operations database and the live store (REDIS_URL; without it the
// service's in-memory copy resyncs by itself: the epoch changed). The database: OPERATIONS_DATABASE_URL
// or DATABASE_URL; else the embedded mode's under DATA_DIR (default ./data): the database
// `albergue_operations` of the running `npm start`'s Postgres (found from DATA_DIR/postgres), or the
// PGlite under DATA_DIR/operations (EMBEDDED_DB=pglite; only while the service is stopped).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmbeddedPostgres, databaseName } from '@albergue/embedded';
import type { SqlDatabase } from '@albergue/outbox';
import { OUTBOX_MIGRATIONS, PgDatabase, PgliteDatabase, migrate } from '@albergue/outbox';
import { envOptional, envUrl } from '@albergue/platform';
import { IDEMPOTENCY_MIGRATION } from '@albergue/runtime';
import { HttpEventHistory } from './adapters/history/http-event-history.js';
import { MemoryLiveStore } from './adapters/memory/memory-live-store.js';
import { OPERATIONS_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgProjectionStore } from './adapters/postgres/pg-projection-store.js';
import { RedisLiveStore } from './adapters/redis/redis-live-store.js';
import { LiveProjections } from './application/live-sync.js';
import type { EventHistory, LiveStore } from './application/ports.js';
import { HistoryUnavailable } from './application/ports.js';
import type { RebuildProgress } from './application/rebuild.js';
import { rebuildProjections } from './application/rebuild.js';
import { OPERATIONS_PROJECTIONS, projectionNamed } from './domain/operations-projections.js';

type Env = Record<string, string | undefined>;

export interface RebuildCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Overrides for tests. */
  readonly history?: EventHistory;
  readonly db?: SqlDatabase;
  readonly live?: LiveStore;
}

const USAGE = `usage: npm run projections:rebuild -- <${OPERATIONS_PROJECTIONS.map((p) => p.name).join('|')}|all>
  AUDIT_URL                  the audit service (default http://127.0.0.1:8106)
  OPERATIONS_DATABASE_URL    the operations database (or DATABASE_URL; default: npm start's, found under DATA_DIR)
  DATA_DIR                   npm start's data folder (default ./data): its running embedded Postgres, or the
                             PGlite under DATA_DIR/operations (EMBEDDED_DB=pglite, with the service stopped)
  REDIS_URL                  the live store (OPERATIONS_REDIS_NAMESPACE, default ops:); without it the service resyncs its memory copy
  REBUILD_PAGE_SIZE          events per page (default 1000)`;

type Found = { url: string; what: string; pglite?: never } | { url?: never; pglite: string; what: string } | { refused: string };

/** The embedded mode's operations database under DATA_DIR, or why there is none to use. */
function embeddedDatabase(env: Env): Found {
  const dataDir = resolve(envOptional('DATA_DIR', env) ?? 'data');
  const cluster = join(dataDir, 'postgres');
  const running = EmbeddedPostgres.runningUrl(cluster, databaseName('operations'));
  if (running) return { url: running, what: `the running embedded Postgres under ${cluster}, database ${databaseName('operations')}` };
  if (existsSync(join(cluster, 'PG_VERSION')))
    return {
      refused: `the embedded Postgres under ${cluster} is not running: start the system (npm start) and run the rebuild next to it, or set OPERATIONS_DATABASE_URL`,
    };
  const pglite = join(dataDir, 'operations');
  if (existsSync(pglite)) return { pglite, what: `PGlite under ${pglite} (is the service still running? stop it first)` };
  return {
    refused: `no operations database under ${dataDir} (neither a running embedded Postgres in ${cluster} nor a PGlite in ${pglite}): set OPERATIONS_DATABASE_URL, or DATA_DIR to npm start's data folder`,
  };
}

/** Runs the rebuild; returns the exit code (0 done, 1 failed, 2 refused: bad arguments or audit unreachable). */
export async function runRebuildCli(args: readonly string[], env: Env, io: RebuildCliIo): Promise<number> {
  const names = args.filter((a) => a !== 'rebuild' && a !== '--');
  if (names.length === 0 || names.includes('--help') || names.includes('-h')) {
    io.err(USAGE);
    return names.length === 0 ? 2 : 0;
  }
  const chosen = names.includes('all') ? [...OPERATIONS_PROJECTIONS] : names.map((n) => projectionNamed(n));
  const unknown = names.filter((n, i) => n !== 'all' && chosen[i] === undefined);
  if (unknown.length > 0) {
    io.err(`unknown projection ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const projections = [...new Set(chosen)].filter((p) => p !== undefined);
  const auditUrl = envUrl('AUDIT_URL', ['http:', 'https:'], env) ?? 'http://127.0.0.1:8106';
  const history = io.history ?? new HttpEventHistory(auditUrl);
  const pageSize = Number(env.REBUILD_PAGE_SIZE ?? '1000');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) {
    io.err('REBUILD_PAGE_SIZE must be an integer from 1 to 10000');
    return 2;
  }
  // Refuse before touching anything when the history cannot be read.
  try {
    await history.page(null, 1);
  } catch (err) {
    io.err(`refused: ${err instanceof HistoryUnavailable ? err.message : String(err)}`);
    return 2;
  }

  const dbUrl =
    envUrl('OPERATIONS_DATABASE_URL', ['postgres:', 'postgresql:'], env) ?? envUrl('DATABASE_URL', ['postgres:', 'postgresql:'], env);
  let db = io.db;
  const ownsDb = !db;
  if (!db) {
    const found = dbUrl ? { url: dbUrl, what: 'OPERATIONS_DATABASE_URL' } : embeddedDatabase(env);
    if ('refused' in found) {
      io.err(`refused: ${found.refused}`);
      return 2;
    }
    try {
      db = found.url ? new PgDatabase(found.url) : await PgliteDatabase.open(found.pglite);
      await db.query('SELECT 1');
    } catch (err) {
      io.err(`cannot open the operations database (${found.what}): ${String(err)}`);
      return 1;
    }
    if (!dbUrl) io.out(`operations database: ${found.what}`);
  }
  const live =
    io.live ??
    (env.REDIS_URL
      ? new RedisLiveStore({ url: env.REDIS_URL, namespace: env.OPERATIONS_REDIS_NAMESPACE ?? 'ops:' })
      : new MemoryLiveStore());
  try {
    await migrate(db, [...OUTBOX_MIGRATIONS, IDEMPOTENCY_MIGRATION, ...OPERATIONS_MIGRATIONS]);
    const store = new PgProjectionStore(db);
    await store.ensure(OPERATIONS_PROJECTIONS);
    io.out(`rebuilding ${projections.map((p) => p.name).join(', ')} from ${history.source}`);
    const progress = (p: RebuildProgress) =>
      io.out(`  page ${p.pages}: ${p.events} events, ${p.eventsPerSecond} events/s, ${(p.elapsedMs / 1000).toFixed(1)} s`);
    const summary = await rebuildProjections(
      { history, store, live: new LiveProjections(projections, store, live), pageSize, onProgress: progress },
      projections,
    );
    if (summary.invalid > 0) io.err(`warning: ${summary.invalid} recorded events are not valid envelopes and were skipped`);
    for (const r of summary.projections)
      io.out(
        `${r.projection}: ${r.events} events, ${r.entities} entities, ${r.caughtUp} caught up from the journal; live store (${live.kind}) ${
          // This process's own memory store is not the service's: the service resyncs its copy when it sees the new epoch.
          live.kind === 'memory' && !io.live
            ? 'resyncs in the service'
            : r.liveResynced
              ? 'resynced'
              : 'NOT resynced (the service resyncs it when Redis is back)'
        }`,
      );
    io.out(`done: ${summary.events} events in ${summary.pages} pages, ${(summary.elapsedMs / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    io.err(`rebuild failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    if (!io.live) await live.close();
    if (ownsDb) await db.close();
  }
}
