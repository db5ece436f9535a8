// The location port contracts on the in-memory adapter (the same suites run on Postgres and PGlite).
import { albergueQueriesContract } from '../../application/albergue-queries.contract';
import type { AlbergueStoreHarness } from '../../application/albergue-repository.contract';
import { albergueRepositoryContract } from '../../application/albergue-repository.contract';
import { MemoryAlbergueStore } from './memory-albergue-store';

const harness: AlbergueStoreHarness = {
  label: 'memory',
  fresh() {
    const store = new MemoryAlbergueStore();
    return Promise.resolve({
      repo: store,
      queries: store,
      inTransaction: (work) => store.transaction(work),
      outbox: () => Promise.resolve([...store.outbox]),
    });
  },
};

albergueRepositoryContract(harness);
albergueQueriesContract(harness);
