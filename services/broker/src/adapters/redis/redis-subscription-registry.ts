import type { Redis } from 'ioredis';
import type { HttpSubscription, HttpSubscriptionRegistry } from '../../application/http-subscriptions.js';
import { keys } from './keys.js';

/** `mqtt:http-subscriptions` hash: field `<subscriber>\0<filter>`, value the subscription as JSON. */
export class RedisHttpSubscriptionRegistry implements HttpSubscriptionRegistry {
  constructor(private readonly redis: Redis) {}

  async save(s: HttpSubscription): Promise<void> {
    await this.redis.hset(keys.httpSubscriptions, `${s.subscriber}\u0000${s.filter}`, JSON.stringify(s));
  }

  async list(): Promise<HttpSubscription[]> {
    const all = await this.redis.hvals(keys.httpSubscriptions);
    return all.map((v) => JSON.parse(v) as HttpSubscription);
  }

  async remove(subscriber: string, filter: string): Promise<boolean> {
    return (await this.redis.hdel(keys.httpSubscriptions, `${subscriber}\u0000${filter}`)) > 0;
  }
}
