// The broker stores' contract on the Redis adapters, on a private redis-server (the broker's keys
// are unprefixed): each fixture starts on an empty server and leaves it empty.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort } from '@albergue/platform/testing';
import { brokerStoresContract } from '../../application/stores.contract.js';
import { startRedisServer } from '../../testing/harness.js';
import { RedisChannelNotifier } from './redis-channel.js';
import { RedisPublishedMessageStore } from './redis-message-store.js';
import { RedisHttpSubscriptionRegistry } from './redis-subscription-registry.js';

let redis: Awaited<ReturnType<typeof startRedisServer>>;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

brokerStoresContract('redis', async (now) => {
  const conns: Redis[] = [];
  const connect = () => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: 2 });
    conns.push(c);
    return c;
  };
  // Each instance has its own connection, as separate broker processes would.
  const open = () => {
    const c = connect();
    return {
      messages: new RedisPublishedMessageStore(c, undefined, now),
      channel: new RedisChannelNotifier(c),
      registry: new RedisHttpSubscriptionRegistry(c),
    };
  };
  const first = open();
  await conns[0]!.flushdb();
  return {
    ...first,
    peer: () => Promise.resolve(open()),
    listen: async (listener) => {
      const sub = connect();
      sub.on('pmessage', (_pattern: string, channel: string, body: string) => listener(channel, body));
      await sub.psubscribe('mqtt:channel:*');
    },
    close: async () => {
      await conns[0]!.flushdb();
      for (const c of conns) c.disconnect();
    },
  };
});

test('a published message expires with the retention period (Redis keeps no message for ever)', async () => {
  const c = new Redis(redis.url);
  try {
    const store = new RedisPublishedMessageStore(c, 60_000);
    assert.equal(await store.claim('ttl-1', 't', '{}', 10), 'new');
    await store.markPublished('ttl-1');
    const ttl = await c.pttl('mqtt:message:ttl-1');
    assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`);
    await c.del('mqtt:message:ttl-1');
  } finally {
    c.disconnect();
  }
});

test('ping is false, not an error, while Redis cannot be reached', async () => {
  const c = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    assert.equal(await new RedisPublishedMessageStore(c).ping(), false);
  } finally {
    c.disconnect();
  }
});
