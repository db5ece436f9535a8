// The location port contracts on the in-memory adapter (the same suites run on Postgres and PGlite).
import { albergueQueriesContract } from '../../application/albergue-queries.contract.js';
import type { AlbergueStoreHarness } from '../../application/albergue-repository.contract.js';
import { albergueRepositoryContract } from '../../application/albergue-repository.contract.js';
import { MemoryAlbergueStore } from './memory-albergue-store.js';

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
