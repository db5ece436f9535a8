// The broker stores' contract on the in-process adapters of the embedded mode.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { brokerStoresContract } from '../../application/stores.contract.js';
import { MemoryChannelNotifier, MemoryPublishedMessageStore } from './memory-message-store.js';
import { MemoryHttpSubscriptionRegistry } from './memory-subscription-registry.js';

brokerStoresContract('memory', (now) => {
  // One process: a second broker instance shares these very objects.
  const stores = {
    messages: new MemoryPublishedMessageStore(undefined, now),
    channel: new MemoryChannelNotifier(),
    registry: new MemoryHttpSubscriptionRegistry(),
  };
  const offs: (() => void)[] = [];
  return Promise.resolve({
    ...stores,
    peer: () => Promise.resolve(stores),
    listen: (listener) => {
      offs.push(stores.channel.listen(listener));
      return Promise.resolve();
    },
    close: () => {
      for (const off of offs) off();
      return Promise.resolve();
    },
  });
});

test('the memory message store forgets what is older than its retention (it stays bounded)', async () => {
  let now = 0;
  const store = new MemoryPublishedMessageStore(1_000, () => now);
  assert.equal(await store.claim('old', 't', '{}', 10), 'new');
  await store.markPublished('old');
  now = 1_000;
  assert.equal(await store.claim('old', 't', '{}', 10), 'duplicate');
  now = 1_001;
  assert.equal(await store.claim('old', 't', '{}', 10), 'new');
});
