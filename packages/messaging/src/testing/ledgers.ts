// Ledger fixtures for runtime tests: isolated stores, with peers that share state like two
// processes on one Redis.
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { createRedisClient } from '../ledger/redis-connection.js';
import { MemoryDeliveryLedger, MemoryLedgerStore } from '../ledger/memory-ledger.js';
import { RedisDeliveryLedger } from '../ledger/redis-ledger.js';
import type { CircuitBreakerStore, DeadLetterStore, DeliveryLedger } from '../ports/ledger.js';

export interface LedgerSet {
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  readonly breakers: CircuitBreakerStore;
}

export interface TestLedger extends LedgerSet {
  readonly kind: LedgerKind;
  /** Another instance on the same state. */
  peer(): Promise<LedgerSet>;
  /** Closes every instance and deletes what was stored. */
  close(): Promise<void>;
}

export type LedgerKind = 'memory' | 'redis';

export function memoryTestLedger(): Promise<TestLedger> {
  const store = new MemoryLedgerStore();
  const set = (): LedgerSet => {
    const l = new MemoryDeliveryLedger(store);
    return { ledger: l, deadLetters: l.deadLetters, breakers: l.breakers };
  };
  return Promise.resolve({
    kind: 'memory',
    ...set(),
    peer: () => Promise.resolve(set()),
    close: () => Promise.resolve(),
  });
}

/**
 * A Redis ledger under a unique key namespace on REDIS_URL (default 127.0.0.1:6379); `close()`
 * deletes exactly the keys of that namespace (never a flush).
 */
export function redisTestLedger(url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'): Promise<TestLedger> {
  const namespace = `test_rt_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
  const opened: RedisDeliveryLedger[] = [];
  const set = (): LedgerSet => {
    const l = new RedisDeliveryLedger({ url, namespace });
    opened.push(l);
    return { ledger: l, deadLetters: l.deadLetters, breakers: l.breakers };
  };
  return Promise.resolve({
    kind: 'redis',
    ...set(),
    peer: () => Promise.resolve(set()),
    async close() {
      await Promise.all(opened.map((l) => l.close()));
      await deleteNamespace(url, namespace);
    },
  });
}

/**
 * Deletes the keys under `namespace` (SCAN + UNLINK; only keys this fixture created). On a cluster
 * URL every master is scanned and keys are unlinked one by one (a multi-key UNLINK must stay in one slot).
 */
export async function deleteNamespace(url: string, namespace: string): Promise<void> {
  if (namespace.length < 8) throw new Error(`refusing to delete a short namespace "${namespace}"`);
  const client = createRedisClient(url, { maxRetriesPerRequest: 1 });
  try {
    const nodes = client instanceof Cluster ? await masters(client) : [client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length === 0) continue;
        if (client instanceof Cluster) await Promise.all(keys.map((k) => node.unlink(k)));
        else await node.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    await client.quit();
  }
}

/** The cluster's masters, once it is connected. */
async function masters(cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready')
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('error', reject);
    });
  return cluster.nodes('master');
}

/** Ledger kinds the scenarios run on (LEDGERS=memory,redis to choose; default both). */
export function ledgerKinds(): LedgerKind[] {
  const wanted = (process.env.LEDGERS ?? 'memory,redis').split(',').map((s) => s.trim());
  return (['memory', 'redis'] as const).filter((k) => wanted.includes(k));
}

export async function startTestLedger(kind: LedgerKind): Promise<TestLedger> {
  return kind === 'memory' ? memoryTestLedger() : redisTestLedger();
}
