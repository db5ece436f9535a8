import { createHash } from 'node:crypto';
import type { SqlDatabase } from '../db/port.js';
import type { Migration } from './sql.js';
import { OUTBOX_MIGRATIONS } from './sql.js';

// A small runner instead of a library: node-pg-migrate (9.x) and postgres-migrations need a `pg`
// client (peer pg <9), and neither drives PGlite. This one needs only the SqlDatabase port, so the
// same code migrates Postgres and PGlite.

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface MigrationReport {
  readonly applied: readonly number[];
  readonly skipped: readonly number[];
}

// Any constant bigint: serialises concurrent runners (several instances starting at once).
const LOCK_KEY = 7_346_201_005;

/** The runner's own table: one row per applied migration (the catalog lists it with the outbox's tables). */
export const SCHEMA_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`;

/**
 * Applies the migrations not applied yet, all in one transaction under an advisory lock; records
 * them in `schema_migrations`. Running it again changes nothing. Refuses a migration whose SQL
 * changed after it was applied.
 */
export async function migrate(db: SqlDatabase, migrations: readonly Migration[] = OUTBOX_MIGRATIONS): Promise<MigrationReport> {
  const versions = migrations.map((m) => m.version);
  if (new Set(versions).size !== versions.length) throw new MigrationError('migration versions must be unique');
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.query(SCHEMA_MIGRATIONS_TABLE);
    const { rows } = await tx.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: number[] = [];
    const skipped: number[] = [];
    for (const m of ordered) {
      const sum = checksum(m.sql);
      const prior = done.get(m.version);
      if (prior !== undefined) {
        if (prior !== sum)
          throw new MigrationError(`migration ${m.version} (${m.name}) was changed after it was applied; add a new migration instead`);
        skipped.push(m.version);
        continue;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, sum]);
      applied.push(m.version);
    }
    return { applied, skipped };
  });
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}
