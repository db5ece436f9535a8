import type { Redis } from 'ioredis';
import type { ChannelNotifier } from '../../application/ports.js';
import { keys } from './keys.js';

/** PUBLISH on `mqtt:channel:<topic>` (logical topic), the envelope JSON as the message. */
export class RedisChannelNotifier implements ChannelNotifier {
  constructor(private readonly redis: Redis) {}

  async emit(topic: string, body: string): Promise<void> {
    await this.redis.publish(keys.channel(topic), body);
  }
}
