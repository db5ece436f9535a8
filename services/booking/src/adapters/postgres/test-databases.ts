// Test support: a migrated throwaway database with the Postgres adapter on it — a uniquely named
// database on the local Postgres (dropped on close) or PGlite in a temp folder (removed on close).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import { migrate, OUTBOX_MIGRATIONS, PgDatabase, PgliteDatabase, quoteIdent } from '@albergue/outbox';
import { uniqueName } from '@albergue/platform/testing';
import type { BookingStoreHarness } from '../../application/contract/fixtures.js';
import { BOOKING_MIGRATIONS } from './migrations.js';
import { PgBookingQueries } from './pg-booking-queries.js';
import { PgBookingRepository } from './pg-booking-repository.js';

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PgHarness extends BookingStoreHarness {
  readonly db: SqlDatabase;
  readonly repo: PgBookingRepository;
  readonly queries: PgBookingQueries;
  /** Closes the database and removes it. */
  close(): Promise<void>;
}

function harness(db: SqlDatabase, remove: () => Promise<void>): PgHarness {
  return {
    db,
    repo: new PgBookingRepository(db),
    queries: new PgBookingQueries(db),
    outbox: async () =>
      (await db.query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id')).rows.map((r) => r.envelope),
    close: async () => {
      await db.close();
      await remove();
    },
  };
}

async function admin(sql: string): Promise<void> {
  const db = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

/** A new database on the local Postgres, migrated; a pool of `poolSize` connections. */
export async function openPgHarness(poolSize = 20): Promise<PgHarness> {
  const name = uniqueName('booking_test').toLowerCase();
  await admin(`CREATE DATABASE ${quoteIdent(name)}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const db = new PgDatabase(url.toString(), { max: poolSize });
  const h = harness(db, () => admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
  try {
    await migrate(db, [...OUTBOX_MIGRATIONS, ...BOOKING_MIGRATIONS]);
  } catch (err) {
    await h.close();
    throw err;
  }
  return h;
}

/** PGlite in a new temporary folder, migrated. */
export async function openPgliteHarness(): Promise<PgHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'booking-pglite-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  let db: SqlDatabase;
  try {
    db = await PgliteDatabase.open(join(dir, 'data'));
  } catch (err) {
    await remove();
    throw err;
  }
  const h = harness(db, remove);
  try {
    await migrate(db, [...OUTBOX_MIGRATIONS, ...BOOKING_MIGRATIONS]);
  } catch (err) {
    await h.close();
    throw err;
  }
  return h;
}
