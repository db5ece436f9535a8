// Test support for any service: throwaway databases on the local Postgres, a PGlite folder, lock waits.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlDatabase } from './db/port.js';
import { PgDatabase, quoteIdent } from './db/pg.js';
import { PgliteDatabase } from './db/pglite.js';
import { uniqueName, waitFor } from '@albergue/platform/testing';

export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly db: SqlDatabase;
  /** Closes the database and removes it (the Postgres database, or the PGlite folder). */
  readonly dispose: () => Promise<void>;
}

async function admin<T>(fn: (db: PgDatabase) => Promise<T>): Promise<T> {
  const db = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** A new, uniquely named database on the local Postgres. */
export async function openTestPostgres(prefix: string): Promise<TestDatabase> {
  const name = uniqueName(prefix).toLowerCase();
  await admin((a) => a.exec(`CREATE DATABASE ${quoteIdent(name)}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const db = new PgDatabase(url.toString());
  return {
    db,
    dispose: async () => {
      await db.close();
      await admin((a) => a.exec(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    },
  };
}

/** PGlite persisted in a new temporary folder. */
export async function openTestPglite(prefix: string): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  try {
    const db = await PgliteDatabase.open(join(dir, 'data'));
    return {
      db,
      dispose: async () => {
        try {
          await db.close();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Real Postgres only: resolves once a session of this database waits on a lock. */
export async function someoneWaitsForALock(db: SqlDatabase): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return (rows[0]?.n ?? 0) > 0;
    },
    { timeoutMs: 5000, message: 'a transaction to wait on a row lock' },
  );
}
