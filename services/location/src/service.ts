import type { Clock } from '@albergue/application';
import { decisionLog, systemClock, uuidV7Ids } from '@albergue/application';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { httpApi } from './http.js';
import { LOCATION_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgAlbergueQueries } from './adapters/postgres/pg-albergue-queries.js';
import { PgAlbergueRepository } from './adapters/postgres/pg-albergue-repository.js';
import { DEFAULT_LOCATION_CONFIG } from './application/ports.js';
import { seedAlbergues } from './application/seed-albergues.js';
import { locationDeclaration } from './declaration.js';

export interface LocationServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  readonly clock?: Clock;
  /** Load the Camino Francés seed albergues (default true; idempotent, so safe on every start). */
  readonly seed?: boolean;
}

/** The location service wired: Postgres adapters, HTTP routes, and the seed albergues on first start. */
export async function createLocationService(o: LocationServiceOptions = {}): Promise<ServiceRuntime> {
  const rt = await createServiceRuntime({
    ...o,
    declaration: locationDeclaration,
    defaultPort: 8101,
    migrations: LOCATION_MIGRATIONS,
    description: 'Albergues of the network and their beds.',
  });
  const clock = o.clock ?? systemClock;
  const repo = new PgAlbergueRepository(rt.db, rt.outbox);
  const queries = new PgAlbergueQueries(rt.db);
  const deps = { repo, clock, ids: uuidV7Ids, config: DEFAULT_LOCATION_CONFIG, decisions: decisionLog(rt.logger, rt.metrics) };
  if (o.seed ?? true) {
    const added = await seedAlbergues(deps);
    if (added.length > 0) rt.logger.info({ albergues: added.length }, 'seed albergues registered');
  }
  await rt.http.register(httpApi({ ...deps, queries }));
  return rt;
}
