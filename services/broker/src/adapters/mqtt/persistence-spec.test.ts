// The broker's Redis persistence (aedes-persistence-redis 11.2 with cleanIncoming and coalesced
// addSubscriptions added by `redisPersistence`) through the abstract suite every Aedes persistence
// runs: aedes-persistence 11's, the spec aedes 1.2 depends on, including its cleanIncoming cases.
// Then what the suite does not try: hostile client ids, and that cleaning leaves no key behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import abstractPersistence from 'aedes-persistence-spec/abstract.js';
import { incomingIndexKey, redisPersistence } from './persistence.js';
import type { RedisPersistence } from './persistence.js';
import { startRedisServer } from '../../testing/harness.js';

let redis: Awaited<ReturnType<typeof startRedisServer>>;
let admin: Redis;
before(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});
after(async () => {
  admin.disconnect();
  await redis.stop();
});

abstractPersistence({
  test: test as never,
  waitForReady: true,
  persistence: async () => {
    // A private server: emptying it between cases touches nobody else's keys.
    await admin.flushdb();
    return redisPersistence(new Redis(redis.url));
  },
});

/** A persistence set up on a stand-in broker (no Aedes), ready for calls. */
async function ready(): Promise<RedisPersistence & { broker: unknown; once(e: string, f: () => void): unknown; ready: boolean }> {
  const mq = {
    on: (_t: string, _f: unknown, cb?: () => void) => cb?.(),
    removeListener: (_t: string, _f: unknown, cb?: () => void) => cb?.(),
    emit: (_p: unknown, cb?: () => void) => cb?.(),
  };
  const p = redisPersistence(new Redis(redis.url)) as RedisPersistence & {
    broker: unknown;
    once(e: string, f: () => void): unknown;
    ready: boolean;
  };
  p.broker = { id: 'broker-test', mq, publish: mq.emit, subscribe: mq.on, unsubscribe: mq.removeListener, counter: 0 };
  if (!p.ready) await new Promise<void>((resolve) => p.once('ready', resolve));
  return p;
}

const packet = (messageId: number) => ({
  cmd: 'publish',
  topic: 'albergue/booking/v1/BookingReserved',
  payload: Buffer.from('x'),
  qos: 2,
  retain: false,
  dup: false,
  length: 10,
  messageId,
});

test("cleanIncoming with glob characters and separators in client ids deletes exactly that client's packets and leaves no key behind", async () => {
  await admin.flushdb();
  const p = await ready();
  try {
    const ids = ['*', 'a*', 'a', 'a:1', '[a]', '?', 'a\\', 'albergue-booking-0', 'ü\u0000x'];
    for (const id of ids) {
      for (let m = 1; m <= 3; m++) await p.incomingStorePacket({ id }, packet(m));
    }
    // A delivered PUBREL removes its packet and its index entry.
    await p.incomingDelPacket({ id: 'a' }, packet(3));
    assert.deepEqual((await admin.smembers(incomingIndexKey('a'))).sort(), ['1', '2']);
    const before = await admin.dbsize();
    await p.cleanIncoming!({ id: '*' });
    await p.cleanIncoming!({ id: 'a' });
    // Cleaning `*` and `a` removed their 3 + 2 packets and 2 index sets; every other client keeps all of its packets.
    assert.equal(await admin.dbsize(), before - 7);
    for (const id of ids.filter((x) => x !== '*' && x !== 'a')) assert.equal(await admin.scard(incomingIndexKey(id)), 3, id);
    for (const id of ids) await p.cleanIncoming!({ id });
    assert.deepEqual(await admin.keys('incoming*'), []);
    // Nothing stored: no error, nothing to do.
    await p.cleanIncoming!({ id: 'never-seen' });
  } finally {
    await new Promise<void>((resolve) => {
      p.destroy(() => resolve());
    });
  }
});

test('cleanIncoming of a client with thousands of stored packets (more than one DEL chunk)', async () => {
  await admin.flushdb();
  const p = await ready();
  try {
    for (let m = 1; m <= 1_201; m++) await p.incomingStorePacket({ id: 'flood' }, packet(m));
    assert.equal(await admin.dbsize(), 1_202);
    await p.cleanIncoming!({ id: 'flood' });
    assert.equal(await admin.dbsize(), 0);
  } finally {
    await new Promise<void>((resolve) => {
      p.destroy(() => resolve());
    });
  }
});
