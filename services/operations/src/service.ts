import type { AlbergueEvent } from '@albergue/events';
import { isClusterUrl, redisUrlFromEnv } from '@albergue/messaging';
import { ConfigError, envInt, envOptional } from '@albergue/platform';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { MemoryLiveStore } from './adapters/memory/memory-live-store.js';
import { OPERATIONS_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgProjectionStore } from './adapters/postgres/pg-projection-store.js';
import { RedisLiveStore } from './adapters/redis/redis-live-store.js';
import { LiveProjections } from './application/live-sync.js';
import type { LiveStore } from './application/ports.js';
import { operationsDeclaration } from './declaration.js';
import { OPERATIONS_PROJECTIONS } from './domain/operations-projections.js';
import { httpApi } from './http.js';

export interface OperationsServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  /**
   * The live store (default: Redis with OPERATIONS_REDIS_URL, else REDIS_URL, under
   * OPERATIONS_REDIS_NAMESPACE; else memory). It needs one Redis, not a cluster.
   */
  readonly live?: LiveStore;
}

export interface OperationsService extends ServiceRuntime {
  readonly store: PgProjectionStore;
  readonly liveSync: LiveProjections;
}

/**
 * The operations service wired: one handler per subscribed event applies it to every projection in
 * the inbox transaction and copies the changed rows to the live store after commit; a job resyncs
 * a live projection that missed a copy (OPERATIONS_LIVE_SYNC_MS) or was rebuilt elsewhere.
 */
export async function createOperationsService(o: OperationsServiceOptions = {}): Promise<OperationsService> {
  const env = o.env ?? process.env;
  const rt = await createServiceRuntime({
    ...o,
    declaration: operationsDeclaration,
    defaultPort: 8107,
    migrations: OPERATIONS_MIGRATIONS,
    description:
      'The operations read model: occupancy, bookings and payments by status, flows in flight; live (Redis) and reports (Postgres).',
  });
  const store = new PgProjectionStore(rt.db);
  let liveUrl: string | undefined;
  try {
    liveUrl = redisUrlFromEnv('OPERATIONS_REDIS_URL', env) ?? rt.config.redisUrl;
    // Its scripts read keys of several slots: on a cluster the ledger may stay, the live store may not.
    if (o.live === undefined && liveUrl !== undefined && isClusterUrl(liveUrl))
      throw new ConfigError(
        'the operations live store needs one Redis, but its URL (OPERATIONS_REDIS_URL, else REDIS_URL) names a Redis Cluster: set OPERATIONS_REDIS_URL=redis://host:port for it (the delivery ledger stays on the cluster)',
      );
  } catch (err) {
    await rt.close();
    throw err;
  }
  const live =
    o.live ??
    (liveUrl
      ? new RedisLiveStore({ url: liveUrl, namespace: envOptional('OPERATIONS_REDIS_NAMESPACE', env) ?? 'ops:' })
      : new MemoryLiveStore());
  const liveSync = new LiveProjections(OPERATIONS_PROJECTIONS, store, live, rt.logger);
  try {
    await store.ensure(OPERATIONS_PROJECTIONS);
  } catch (err) {
    await rt.close();
    await live.close();
    throw err;
  }

  for (const s of operationsDeclaration.subscribes) {
    rt.on(s.event, s.handler, async (ctx, tx) => {
      const changed = await store.applyLive(tx, OPERATIONS_PROJECTIONS, ctx.event as AlbergueEvent);
      // Redis is not in the transaction: the committed rows are copied after commit (newest version wins).
      if (changed.size > 0) tx.afterCommit(() => void liveSync.push(changed));
    });
  }
  rt.every('sync-live-projections', envInt('OPERATIONS_LIVE_SYNC_MS', 1000, { min: 50 }, env), () => liveSync.sync());

  await rt.http.register(httpApi({ live, reports: store, liveSync, status: () => store.status(), nowMs: () => Date.now() }));

  const start = rt.start.bind(rt);
  const close = rt.close.bind(rt);
  return {
    ...rt,
    store,
    liveSync,
    async start() {
      // The live copy from Postgres before answering (memory: always; Redis: when missing or of another epoch).
      await liveSync.sync();
      return start();
    },
    async close() {
      await close();
      await live.close();
    },
  };
}
