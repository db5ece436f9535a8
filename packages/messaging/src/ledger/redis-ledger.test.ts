import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { dlqOperationsContract } from '../dlq/operations.contract.js';
import { deleteNamespace } from '../testing/ledgers.js';
import type { LedgerFactory } from './ledger.contract.js';
import { fastPolicy, ledgerContract, msg, topicA, topicB } from './ledger.contract.js';
import { RedisDeliveryLedger } from './redis-ledger.js';
import { PRELUDE } from './redis-scripts.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const dropNamespace = (ns: string): Promise<void> => deleteNamespace(url, ns);

const factory: LedgerFactory = () => {
  const namespace = `test_ledger_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
  const opened: RedisDeliveryLedger[] = [];
  const open = () => {
    const ledger = new RedisDeliveryLedger({ url, namespace });
    opened.push(ledger);
    return { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers };
  };
  return Promise.resolve({
    ...open(),
    peer: () => Promise.resolve(open()),
    close: async () => {
      await Promise.all(opened.map((l) => l.close()));
      await dropNamespace(namespace);
    },
  });
};

ledgerContract('redis', factory);
dlqOperationsContract('redis', factory);

describe('redis ledger: key layout, server-side dates, round trips', () => {
  const namespace = `test_ledger_keys_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
  let ledger: RedisDeliveryLedger;
  let r: Redis;
  before(() => {
    ledger = new RedisDeliveryLedger({ url, namespace });
    r = new Redis(url);
  });
  after(async () => {
    await ledger.close();
    await r.quit();
    await dropNamespace(namespace);
  });

  test('every key the ledger writes is one of the documented ones, with the documented type and TTL', async () => {
    const sub = 'keys-svc';
    const policy = fastPolicy({ maxAttempts: 2, breaker: { failureThreshold: 1, windowMs: 5_000, openMs: 60_000 } });
    await ledger.register(sub, topicA, policy);
    await ledger.record(sub, [msg(topicA, 'k1'), msg(topicA, 'k2'), msg(topicA, 'k3')]);
    const [d1, d2] = await ledger.lease(sub, 2);
    await ledger.ack(d1!);
    await ledger.nack(d2!, 'boom'); // opens the breaker (threshold 1)
    await ledger.deadLetters.add({
      id: 'bad-1',
      topic: topicB,
      subscriber: sub,
      body: '{',
      reason: 'invalid_envelope',
      attempts: 0,
      errors: [{ attempt: 0, at: new Date().toISOString(), message: 'not JSON' }],
      firstFailureAt: new Date().toISOString(),
      lastFailureAt: new Date().toISOString(),
      deadLetteredAt: new Date().toISOString(),
    });

    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const types = Object.fromEntries(await Promise.all(keys.map(async (k) => [k.slice(namespace.length), await r.type(k)] as const)));
    assert.deepEqual(types, {
      [`mqtt:processed:{${sub}}:${topicA}`]: 'zset',
      [`mqtt:dlq:{${sub}}:${topicB}`]: 'hash',
      [`mqtt:dlq:{${sub}}:${topicB}:order`]: 'zset',
      [`mqtt:dlq-topics:{${sub}}`]: 'set',
      [`cb:{${sub}}:${topicA}`]: 'hash',
      [`cb:{${sub}}:${topicA}:failures`]: 'zset',
      'mqtt:ledger:subscribers': 'set',
      [`mqtt:ledger:{${sub}}:topics`]: 'set',
      [`mqtt:ledger:{${sub}}:policies`]: 'hash',
      [`mqtt:ledger:{${sub}}:${topicA}:ready`]: 'zset',
      [`mqtt:ledger:{${sub}}:${topicA}:msg:k2`]: 'hash',
      [`mqtt:ledger:{${sub}}:${topicA}:msg:k3`]: 'hash',
    });
    const processed = `${namespace}mqtt:processed:{${sub}}:${topicA}`;
    const ttl = await r.pttl(processed);
    assert.ok(ttl > 0 && ttl <= policy.dedupWindowMs, `processed TTL ${ttl}`);
    const until = Number(await r.zscore(processed, 'k1'));
    assert.ok(Math.abs(until - (Date.now() + policy.dedupWindowMs)) < 2_000, 'scored by expiry');
    const failuresTtl = await r.pttl(`${namespace}cb:{${sub}}:${topicA}:failures`);
    assert.ok(failuresTtl > 0 && failuresTtl <= policy.breaker.windowMs);
    assert.equal(await r.pttl(`${namespace}cb:{${sub}}:${topicA}`), -1);
    assert.deepEqual(await r.hgetall(`${namespace}cb:{${sub}}:${topicA}`), {
      state: 'open',
      until: (await r.hget(`${namespace}cb:{${sub}}:${topicA}`, 'until'))!,
    });
    const entry = await r.hgetall(`${namespace}mqtt:ledger:{${sub}}:${topicA}:msg:k2`);
    assert.equal(entry.att, '1');
    assert.equal(JSON.parse(entry.errs!)[0].message, 'boom');
    assert.deepEqual(JSON.parse((await r.hget(`${namespace}mqtt:dlq:{${sub}}:${topicB}`, `${sub}:bad-1`))!).id, 'bad-1');

    // A reset breaker and an acked probe leave no cb: keys behind.
    await ledger.breakers.reset(sub, topicA);
    assert.equal(await r.exists(`${namespace}cb:{${sub}}:${topicA}`, `${namespace}cb:{${sub}}:${topicA}:failures`), 0);
  });

  test('the Lua ISO-8601 formatter agrees with Date.prototype.toISOString', async () => {
    const samples = [0, 951_782_400_000, 951_868_799_999, 1_709_164_800_123, 4_107_542_400_000, Date.now()];
    for (let i = 0; i < 200; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
    const out = (await r.eval(
      `${PRELUDE}\nlocal o = {}\nfor i = 2, #ARGV do o[#o + 1] = iso(tonumber(ARGV[i])) end\nreturn o`,
      0,
      namespace,
      ...samples.map(String),
    )) as string[];
    assert.deepEqual(
      out,
      samples.map((ms) => new Date(ms).toISOString()),
    );
  });

  test('record, lease and ackMany take one round trip per batch', async () => {
    const sub = 'rt-svc';
    await ledger.register(sub, topicA, fastPolicy());
    const warm = await ledger.record(sub, [msg(topicA, 'warm')]); // loads the scripts (EVALSHA miss → EVAL)
    assert.deepEqual(warm, ['recorded']);
    await ledger.ackMany(await ledger.lease(sub, 1));
    const redis = ledger.conn.redis as Redis;
    const sent: string[] = [];
    const original = redis.sendCommand.bind(redis);
    redis.sendCommand = (...args: Parameters<typeof original>) => {
      sent.push(args[0].name);
      return original(...args);
    };
    try {
      const batch = Array.from({ length: 200 }, (_, i) => msg(topicA, `rt${i}`));
      assert.equal((await ledger.record(sub, batch)).length, 200);
      const leased = await ledger.lease(sub, 200);
      assert.equal(leased.length, 200);
      assert.ok((await ledger.ackMany(leased)).every((o) => o === 'acked'));
    } finally {
      redis.sendCommand = original;
    }
    assert.deepEqual(sent, ['evalsha', 'evalsha', 'evalsha']);
  });

  test('a body recorded with its received bytes is stored as those bytes and leased back as the same text', async () => {
    const sub = 'bytes-svc';
    const body = '{"event_id":"b1","note":"Peregrinación a Santiago ✓"}';
    assert.deepEqual(await ledger.record(sub, [{ topic: topicA, eventId: 'b1', body, bytes: Buffer.from(body, 'utf8') }]), ['recorded']);
    const d = (await ledger.lease(sub, 1))[0];
    assert.ok(d);
    assert.equal(d.body, body);
    assert.equal(await r.hget(`${namespace}mqtt:ledger:{${sub}}:${topicA}:msg:b1`, 'body'), body);
    assert.equal(await ledger.ack(d), 'acked');
  });

  test('namespaces isolate ledgers on the same Redis', async () => {
    const other = new RedisDeliveryLedger({ url, namespace: `${namespace}other:` });
    try {
      await ledger.record('iso-svc', [msg(topicA, 'same')]);
      assert.deepEqual(await other.record('iso-svc', [msg(topicA, 'same')]), ['recorded']);
      assert.equal((await other.lease('iso-svc', 5)).length, 1);
      assert.equal((await ledger.lease('iso-svc', 5)).length, 1);
    } finally {
      await other.close();
    }
  });
});
