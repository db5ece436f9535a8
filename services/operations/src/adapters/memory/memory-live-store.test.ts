import { liveStoreContract } from '../../application/live-store.contract.js';
import { MemoryLiveStore } from './memory-live-store.js';

liveStoreContract('memory', () => {
  const store = new MemoryLiveStore();
  return Promise.resolve({ store, dispose: () => store.close() });
});
