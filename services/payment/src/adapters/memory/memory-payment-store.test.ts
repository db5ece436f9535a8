// The payment port contracts on the in-memory adapter (the same suites run on Postgres and PGlite).
import type { EventEnvelope } from '@albergue/events';
import { paymentQueriesContract } from '../../application/payment-queries.contract.js';
import type { PaymentStoreHarness } from '../../application/payment-repository.contract.js';
import { paymentRepositoryContract } from '../../application/payment-repository.contract.js';
import { MemoryPaymentStore } from './memory-payment-store.js';

const harness: PaymentStoreHarness = {
  label: 'memory',
  fresh() {
    const store = new MemoryPaymentStore();
    const processed = new Set<string>(); // the inbox: event_ids whose handler committed
    return Promise.resolve({
      repo: store,
      queries: store,
      handle: <T>(envelope: EventEnvelope, work: (tx: Parameters<Parameters<MemoryPaymentStore['transaction']>[0]>[0]) => Promise<T>) =>
        store.transaction(async (tx): Promise<T | undefined> => {
          if (processed.has(envelope.event_id)) return undefined;
          const value = await work(tx);
          processed.add(envelope.event_id);
          return value;
        }),
      outbox: () => Promise.resolve([...store.outbox]),
    });
  },
};

paymentRepositoryContract(harness);
paymentQueriesContract(harness);
