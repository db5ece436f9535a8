// aedes-persistence-redis ships no types; this is the part the broker uses.
declare module 'aedes-persistence-redis' {
  import type { Redis, RedisOptions } from 'ioredis';

  interface AedesPersistenceRedisOptions extends RedisOptions {
    conn?: Redis;
    /** Offline messages delivered on CONNECT (default 1000). */
    maxSessionDelivery?: number;
  }

  function aedesPersistenceRedis(options?: AedesPersistenceRedisOptions): unknown;
  export default aedesPersistenceRedis;
}
