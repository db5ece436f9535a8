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
export async function redisStorage(redisUrl: string): Promise<BrokerStorage> {
  // The persistence owns its connection and disconnects it in destroy(); closing the broker
  // (aedes.close) closes the mqemitter.
  const persistence = aedesPersistenceRedis({ conn: new Redis(redisUrl, { maxRetriesPerRequest: null }) }) as {
    destroy?: (cb?: () => void) => unknown;
    addSubscriptions: (client: { id: string }, subs: { topic: string }[]) => Promise<unknown>;
  };
  coalesceAddSubscriptions(persistence);
  // mqemitter-redis subscribes on its connection as soon as Aedes asks; on a connection that is not
  // ready yet ioredis' ready check (INFO) then fails with "Connection in subscriber mode" and the
  // error crashes the broker. Hand it connections that are already ready.
  const subConn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const pubConn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  await Promise.all([ready(subConn), ready(pubConn)]);
  const mq = MQEmitterRedis({ subConn, pubConn });
  return {
    kind: 'redis',
    aedesOptions: { persistence, mq },
    close: async () => {
      await Promise.resolve(persistence.destroy?.());
    },
  };
}

function ready(conn: Redis): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    conn.once('ready', () => resolve());
    conn.once('error', reject);
  });
}

/**
 * aedes 1.2 calls `persistence.addSubscriptions(client, packet.subscriptions)` once per topic of a
 * SUBSCRIBE packet, all at once, with the whole list each time. aedes-persistence-redis waits for its
 * own `$SYS/sub/add` broadcast keyed by client and first topic, so only one of those concurrent calls
 * is ever answered: a persistent client subscribing to two or more topics in one packet never got
 * its SUBACK (found here with mqtt.js). Identical concurrent calls now share one.
 */
function coalesceAddSubscriptions(persistence: { addSubscriptions: (client: { id: string }, subs: { topic: string }[]) => Promise<unknown> }): void {
  const original = persistence.addSubscriptions.bind(persistence);
  const inFlight = new Map<string, Promise<unknown>>();
  persistence.addSubscriptions = (client, subs) => {
    const key = `${client.id}\u0000${subs.map((s) => s.topic).join('\u0000')}`;
    let p = inFlight.get(key);
    if (!p) {
      p = original(client, subs).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
}
