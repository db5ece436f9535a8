// The port contracts on the in-memory adapter (the reference the Postgres adapter is held to).
import { MemoryBookingStore } from './memory-booking-store.js';
import { bookingQueriesContract } from '../../application/contract/booking-queries.contract.js';
import { bookingRepositoryContract } from '../../application/contract/booking-repository.contract.js';
import type { BookingStoreHarness } from '../../application/contract/fixtures.js';

const store = new MemoryBookingStore();
const harness: BookingStoreHarness = {
  repo: store,
  queries: store,
  outbox: () => Promise.resolve(store.outbox),
};

bookingRepositoryContract('memory', () => harness);
bookingQueriesContract('memory', () => harness);
