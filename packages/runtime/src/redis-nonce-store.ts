// The gateway signatures' replay guard shared by every instance of a service: a nonce is taken with
// one SET NX PX, so a signed request replayed to another instance within the window is refused too.
import type { Logger } from '@albergue/platform';
import { DEFAULT_SIGNATURE_WINDOW_MS, NonceGuard, type NonceStore } from '@albergue/platform/gateway-signature';

/** What the store needs of a Redis client (ioredis' `Redis` and `Cluster` both have it). */
export interface NonceRedis {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<string | null>;
}

/** Key of an accepted nonce (`[namespace]gw:nonce:<nonce>`), expiring after twice the replay window. */
const NONCE_KEY_PREFIX = 'gw:nonce:';

export interface RedisNonceStoreOptions {
  readonly windowMs?: number;
  /** Prepended to every key: the ledger's namespace, so a second system on one Redis keeps its own. */
  readonly keyPrefix?: string;
  /** How long to wait for Redis before deciding with this process's memory instead (default 250 ms). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/**
 * Redis decides; when it does not answer in time, this process's own guard does (a replay to another
 * instance then passes until Redis is back — the signature's MAC and 30 s window still hold), and a
 * warning says so once per outage. Requests are not refused for Redis being down: the signature is
 * the authentication, the nonce only narrows replays.
 */
export class RedisNonceStore implements NonceStore {
  private readonly local: NonceGuard;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private degraded = false;

  constructor(
    private readonly redis: NonceRedis,
    private readonly o: RedisNonceStoreOptions = {},
  ) {
    const windowMs = o.windowMs ?? DEFAULT_SIGNATURE_WINDOW_MS;
    this.local = new NonceGuard(windowMs);
    this.ttlMs = 2 * windowMs;
    this.timeoutMs = o.timeoutMs ?? 250;
  }

  async firstUse(nonce: string, nowMs: number): Promise<boolean> {
    // Remembered locally as well: a replay to this instance is refused even while Redis is away.
    if (!this.local.firstUse(nonce, nowMs)) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        this.redis.set(`${this.o.keyPrefix ?? ''}${NONCE_KEY_PREFIX}${nonce}`, '1', 'PX', this.ttlMs, 'NX'),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      if (this.degraded) {
        this.degraded = false;
        this.o.logger?.info('gateway signature nonces: Redis answers again; replays are refused across instances');
      }
      return answer === 'OK';
    } catch (err) {
      if (!this.degraded) {
        this.degraded = true;
        this.o.logger?.warn({ err }, 'gateway signature nonces: Redis unavailable; replays are refused per instance only until it is back');
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}
