import { deleteNamespace } from '@albergue/messaging/testing';
import { uniqueName } from '@albergue/platform/testing';
import { liveStoreContract } from '../../application/live-store.contract.js';
import { RedisLiveStore } from './redis-live-store.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

liveStoreContract('redis', () => {
  const namespace = `${uniqueName('operations-live')}:`;
  const store = new RedisLiveStore({ url: REDIS, namespace, chunk: 2 });
  return Promise.resolve({
    store,
    dispose: async () => {
      await store.close();
      await deleteNamespace(REDIS, namespace);
    },
  });
});
