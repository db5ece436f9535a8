// The port contracts and the adapter's own promises on PGlite (embedded Postgres, one session),
// one instance in a temporary folder for the whole file.
import { after, before } from 'node:test';
import { bookingQueriesContract } from '../../application/contract/booking-queries.contract';
import { bookingRepositoryContract } from '../../application/contract/booking-repository.contract';
import { pgAdapterSuite } from './pg-adapter.suite';
import type { PgHarness } from './test-databases';
import { openPgliteHarness } from './test-databases';

let h: PgHarness | undefined;
const get = (): PgHarness => {
  if (!h) throw new Error('PGlite is not open');
  return h;
};

before(async () => { h = await openPgliteHarness(); });
after(async () => { await h?.close(); });

bookingRepositoryContract('pglite', get);
bookingQueriesContract('pglite', get);
pgAdapterSuite('pglite', get);
