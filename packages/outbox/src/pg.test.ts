// The outbox/inbox contract on real Postgres through a pg Pool.
import { PgDatabase } from './db/pg.js';
import { outboxContract } from './contract-suite.js';
import { createTestDatabase } from './testing.js';

let drop: (() => Promise<void>) | undefined;
let url: string | undefined;

outboxContract({
  label: 'pg',
  async open() {
    if (!url) ({ url, drop } = await createTestDatabase());
    return new PgDatabase(url);
  },
  async cleanup() {
    await drop?.();
  },
});
