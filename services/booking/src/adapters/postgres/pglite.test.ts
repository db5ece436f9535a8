// The port contracts and the adapter's own promises on PGlite (embedded Postgres, one session),
// one instance in a temporary folder for the whole file.
import { after, before } from 'node:test';
import { bookingQueriesContract } from '../../application/contract/booking-queries.contract.js';
import { bookingRepositoryContract } from '../../application/contract/booking-repository.contract.js';
import { pgAdapterSuite } from './pg-adapter.suite.js';
import type { PgHarness } from './test-databases.js';
import { openPgliteHarness } from './test-databases.js';

let h: PgHarness | undefined;
const get = (): PgHarness => {
  if (!h) throw new Error('PGlite is not open');
  return h;
};

before(async () => {
  h = await openPgliteHarness();
});
after(async () => {
  await h?.close();
});

bookingRepositoryContract('pglite', get);
bookingQueriesContract('pglite', get);
pgAdapterSuite('pglite', get);
