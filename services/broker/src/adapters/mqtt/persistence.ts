import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import aedesPersistenceRedis from 'aedes-persistence-redis';

/**
 * Where Aedes keeps sessions, subscriptions, retained messages and queued QoS 1 messages, and how
 * several broker instances exchange messages. Redis: aedes-persistence-redis + mqemitter-redis
 * (instances sharing one Redis form one broker). Memory: Aedes' defaults (the embedded mode).
 */
export interface BrokerStorage {
  readonly kind: 'redis' | 'memory';
  /** Options to spread into `Aedes.createBroker`. */
  readonly aedesOptions: { persistence?: unknown; mq?: unknown };
  /** Releases connections after the broker has closed. */
  close(): Promise<void>;
}

export function memoryStorage(): BrokerStorage {
  return { kind: 'memory', aedesOptions: {}, close: () => Promise.resolve() };
}

/**
 * Redis storage. Note: aedes-persistence-redis uses unprefixed keys (`client:*`, `retained:*`,
 * `outgoing:*`, `packet:*`, ...) and mqemitter-redis uses Redis pub/sub, which is shared by all
 * databases of a server: give each independent broker its own Redis server.
 */
export function redisStorage(redisUrl: string): BrokerStorage {
  // The persistence owns its connection and disconnects it in destroy(); closing the broker
  // (aedes.close) closes the mqemitter.
  const persistence = aedesPersistenceRedis({ conn: new Redis(redisUrl, { maxRetriesPerRequest: null }) }) as {
    destroy?: (cb?: () => void) => unknown;
  };
  const mq = MQEmitterRedis({ connectionString: redisUrl });
  return {
    kind: 'redis',
    aedesOptions: { persistence, mq },
    close: async () => {
      await Promise.resolve(persistence.destroy?.());
    },
  };
}
