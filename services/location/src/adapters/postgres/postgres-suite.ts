// Location's port contracts on Postgres, for pg.test.ts (real Postgres) and pglite.test.ts: one
// database per file, migrated once, emptied before each test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import { migrate, OUTBOX_MIGRATIONS } from '@albergue/outbox';
import { albergueQueriesContract } from '../../application/albergue-queries.contract.js';
import type { AlbergueStoreFixture, AlbergueStoreHarness } from '../../application/albergue-repository.contract.js';
import { albergueRepositoryContract } from '../../application/albergue-repository.contract.js';
import { LOCATION_MIGRATIONS } from './migrations.js';
import { PgAlbergueQueries } from './pg-albergue-queries.js';
import { PgAlbergueRepository } from './pg-albergue-repository.js';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { someoneWaitsForALock } from '@albergue/outbox/test-databases';

const ALL_MIGRATIONS = [...OUTBOX_MIGRATIONS, ...LOCATION_MIGRATIONS];

export function postgresLocationSuite(label: string, open: () => Promise<TestDatabase>): void {
  let handle: TestDatabase | undefined;
  const db = (): SqlDatabase => {
    if (!handle) throw new Error('the test database is not open');
    return handle.db;
  };

  before(async () => {
    handle = await open();
    const report = await migrate(db(), ALL_MIGRATIONS);
    assert.deepEqual(
      report.applied,
      ALL_MIGRATIONS.map((m) => m.version),
    );
  });

  after(async () => {
    await handle?.dispose();
  });

  test(`${label}: migrations — location's run after the outbox's from version 100; a second run changes nothing`, async () => {
    assert.ok(LOCATION_MIGRATIONS.every((m) => m.version >= 100));
    const again = await migrate(db(), ALL_MIGRATIONS);
    assert.deepEqual(again, { applied: [], skipped: ALL_MIGRATIONS.map((m) => m.version) });
    const { rows } = await db().query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'albergue%' ORDER BY table_name`,
    );
    assert.deepEqual(
      rows.map((r) => r.table_name),
      ['albergue_views', 'albergues'],
    );
  });

  const harness: AlbergueStoreHarness = {
    label,
    async fresh() {
      const d = db();
      await d.exec('TRUNCATE albergues, albergue_views, outbox_events, inbox_events');
      const repo = new PgAlbergueRepository(d);
      const fixture: AlbergueStoreFixture = {
        repo,
        queries: new PgAlbergueQueries(d),
        inTransaction: (work) => d.transaction((tx) => work(repo.forTransaction(tx))),
        async outbox(): Promise<EventEnvelope[]> {
          const { rows } = await d.query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id');
          return rows.map((r) => r.envelope);
        },
      };
      return d.driver === 'pg' ? { ...fixture, someoneWaitsForALock: () => someoneWaitsForALock(d) } : fixture;
    },
  };

  albergueRepositoryContract(harness);
  albergueQueriesContract(harness);
}
