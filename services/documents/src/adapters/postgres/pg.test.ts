// Documents' Postgres adapter on real Postgres (127.0.0.1:5432; PG_ADMIN_URL overrides), in a database
// of its own that is dropped at the end.
import { PgDatabase } from '@albergue/outbox';
import { openTestPostgres } from '@albergue/outbox/test-databases';
import { postgresDocumentsSuite } from './postgres-suite.js';

let url = '';
postgresDocumentsSuite(
  'pg',
  async () => {
    const t = await openTestPostgres('documents_test');
    const { rows } = await t.db.query<{ db: string }>('SELECT current_database() AS db');
    const u = new URL(process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    u.pathname = `/${rows[0]?.db ?? ''}`;
    url = u.toString();
    return t;
  },
  () => new PgDatabase(url),
);
