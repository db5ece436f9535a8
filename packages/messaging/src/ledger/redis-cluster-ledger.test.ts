// The Redis ledger on a three-master Redis Cluster that this file starts on loopback: the whole
// ledger contract, a proof that every script stays in one slot, and the cluster URL's parsing.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { dlqOperationsContract } from '../dlq/operations.contract.js';
import { deleteNamespace } from '../testing/ledgers.js';
import { redisServerMissing, startRedisCluster } from '../testing/redis-servers.js';
import type { TestRedisCluster } from '../testing/redis-servers.js';
import type { LedgerFactory } from './ledger.contract.js';
import { fastPolicy, ledgerContract, msg, topicA, topicB } from './ledger.contract.js';
import { createRedisClient, parseClusterUrl, redisUrlFromEnv } from './redis-connection.js';
import { RedisDeliveryLedger, SCRIPT_NAMES } from './redis-ledger.js';

const missing = redisServerMissing();
if (missing) {
  test('ledger on Redis Cluster', { skip: `skipped: ${missing}` }, () => undefined);
} else {
  let cluster: TestRedisCluster | undefined;
  // Started before the suites below open their fixtures (node:test runs file-level hooks first).
  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });
  const url = (): string => {
    if (!cluster) throw new Error('the Redis Cluster did not start');
    return cluster.url;
  };

  const factory: LedgerFactory = () => {
    const namespace = `test_cl_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
    const opened: RedisDeliveryLedger[] = [];
    const open = () => {
      const ledger = new RedisDeliveryLedger({ url: url(), namespace });
      opened.push(ledger);
      return { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers };
    };
    return Promise.resolve({
      ...open(),
      peer: () => Promise.resolve(open()),
      close: async () => {
        await Promise.all(opened.map((l) => l.close()));
        await deleteNamespace(url(), namespace);
      },
    });
  };

  ledgerContract('redis cluster', factory);
  dlqOperationsContract('redis cluster', factory);

  describe('redis cluster ledger: one slot per script', () => {
    test('the ledger uses the cluster client, and every script it runs touches one slot of the three masters', async () => {
      const namespace = `test_cl_slots_${Math.random().toString(36).slice(2, 8)}:`;
      const ledger = new RedisDeliveryLedger({ url: url(), namespace });
      const admin = new Redis(cluster!.nodes[0]!.url);
      try {
        assert.ok(ledger.conn.redis instanceof Cluster, 'a redis+cluster:// URL opens ioredis Cluster');
        // Subscribers whose hash tags fall on all three masters, so a key of another slot would be
        // on another node too (and compat-mode scripts would fail there); the shebang makes Redis
        // refuse a cross-slot key even on the same node.
        const subs: string[] = [];
        const nodesSeen = new Set<number>();
        for (let i = 0; nodesSeen.size < 3 || subs.length < 4; i++) {
          assert.ok(i < 1_000, 'no subscriber names on every master');
          const sub = `slot-svc-${i}`;
          const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', `{${sub}}`));
          const node = Math.floor(slot / Math.ceil(16_384 / 3));
          if (!nodesSeen.has(node) || subs.length < 4) {
            nodesSeen.add(node);
            subs.push(sub);
          }
        }
        // Count the scripts actually run: every one the ledger defines must be exercised here.
        const ran = new Set<string>();
        const client = ledger.conn.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        for (const name of SCRIPT_NAMES) {
          const original = client[name]!;
          client[name] = (...a: unknown[]) => {
            ran.add(name);
            return original.apply(ledger.conn.redis, a);
          };
        }
        const policy = fastPolicy({ maxAttempts: 1, breaker: { failureThreshold: 1, windowMs: 5_000, openMs: 60_000 } });
        for (const sub of subs) {
          await ledger.register(sub, topicA, policy);
          await ledger.register(sub, topicB, policy);
          assert.deepEqual(await ledger.record(sub, [msg(topicA, `${sub}-a1`), msg(topicB, `${sub}-b1`), msg(topicA, `${sub}-a2`)]), [
            'recorded',
            'recorded',
            'recorded',
          ]);
        }
        const leased = (await Promise.all(subs.map((s) => ledger.lease(s, 10)))).flat();
        assert.equal(leased.length, subs.length * 3);
        // One ackMany across every subscriber (split per slot), one nack each (dead letter + breaker).
        const toAck = leased.filter((d) => d.eventId.endsWith('-a1') || d.eventId.endsWith('-b1'));
        assert.ok((await ledger.ackMany(toAck)).every((o) => o === 'acked'));
        for (const d of leased.filter((x) => x.eventId.endsWith('-a2'))) assert.equal(await ledger.nack(d, 'boom'), 'dead-lettered');
        assert.equal(await ledger.isProcessed(subs[0]!, topicA, `${subs[0]}-a1`), true);
        assert.deepEqual(await ledger.depth(subs[0]!), { [topicA]: 0, [topicB]: 0 });
        const facts = await ledger.deliveries(subs.map((s) => ({ subscriber: s, topic: topicA, eventId: `${s}-a2` })));
        assert.deepEqual(
          facts.map((f) => [f.subscriber, f.state]),
          subs.map((s) => [s, 'dead_lettered']),
        );
        const breakers = await ledger.breakers.list();
        assert.deepEqual(new Set(breakers.filter((b) => b.state === 'open').map((b) => b.subscriber)), new Set(subs));
        assert.deepEqual(await ledger.deadLetters.topics(), [{ topic: topicA, depth: subs.length }]);
        assert.equal((await ledger.deadLetters.list(topicA)).length, subs.length);
        assert.equal((await ledger.deadLetters.get(topicA, `${subs[1]}-a2`))?.subscriber, subs[1]);
        assert.equal(await ledger.deadLetters.remove(topicA), subs.length);
        assert.deepEqual(await ledger.deadLetters.topics(), []);
        assert.deepEqual([...ran].sort(), [...SCRIPT_NAMES].sort(), 'every ledger script ran');
      } finally {
        await ledger.close();
        admin.disconnect();
        await deleteNamespace(url(), namespace);
      }
    });

    test('a script that reaches into another slot is refused by the cluster (the check above is real)', async () => {
      const client = createRedisClient(url());
      try {
        // The same shebang the ledger's cluster scripts carry; two keys of different slots.
        await assert.rejects(
          client.eval('#!lua\nredis.call("GET", ARGV[1]) return redis.call("GET", ARGV[2])', 1, '{a}x', '{a}y', '{b}y'),
          /do not hash to the same slot|non local key/,
        );
      } finally {
        await client.quit();
      }
    });
  });
}

describe('redis cluster URL', () => {
  test('seed nodes, credentials and TLS are read from redis+cluster:// and rediss+cluster://', () => {
    assert.deepEqual(parseClusterUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002,node4'), {
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
        { host: 'node4', port: 6379 },
      ],
      tls: false,
    });
    assert.deepEqual(parseClusterUrl('rediss+cluster://app:s%40cret@h1:7000/'), {
      nodes: [{ host: 'h1', port: 7000 }],
      tls: true,
      username: 'app',
      password: 's@cret',
    });
  });

  test('a malformed URL is a clear error naming the variable, without the password', () => {
    for (const [bad, why] of [
      ['redis+cluster://', /no nodes/],
      ['redis+cluster://h1:7000,,h2:7001', /"" is not host:port/],
      ['redis+cluster://h1:99999', /out of range/],
      ['redis+cluster://h1:7000/2', /no database number/],
      ['redis+cluster://user:topsecret@h1:abc', /"h1:abc" is not host:port/],
    ] as const) {
      assert.throws(
        () => redisUrlFromEnv('REDIS_URL', { REDIS_URL: bad }),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, /^REDIS_URL=/);
          assert.match(err.message, why);
          assert.match(err.message, /expected redis\+cluster:\/\/\[user:password@\]host:port/);
          assert.doesNotMatch(err.message, /topsecret/);
          return true;
        },
      );
    }
    assert.throws(
      () => redisUrlFromEnv('REDIS_URL', { REDIS_URL: 'http://h1' }),
      /REDIS_URL must use redis: or rediss: or redis\+cluster:/,
    );
    assert.equal(redisUrlFromEnv('REDIS_URL', { REDIS_URL: 'redis://h1:6379/2' }), 'redis://h1:6379/2');
    assert.equal(redisUrlFromEnv('REDIS_URL', {}), undefined);
  });

  test('a namespace with a brace is refused (it would become every key’s hash tag)', () => {
    assert.throws(
      () => new RedisDeliveryLedger({ redis: new Redis({ lazyConnect: true }), namespace: 'a{b}:' }),
      /invalid ledger namespace "a\{b\}:"/,
    );
  });
});
