// The Postgres store on PGlite (the embedded mode's engine): the same SQL folds live deliveries and
// rebuilds to what a fold of the history gives, with the in-memory live store.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { OUTBOX_MIGRATIONS, migrate } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { openTestPglite } from '@albergue/outbox/test-databases';
import { OPERATIONS_PROJECTIONS } from '../../domain/operations-projections.js';
import { foldProjection } from '../../domain/projection.js';
import { LiveProjections } from '../../application/live-sync.js';
import { rebuildProjections } from '../../application/rebuild.js';
import { plainState } from '../../testing/compare.js';
import { prng, scenario, shuffled } from '../../testing/scenario.js';
import { MemoryEventHistory } from '../history/memory-event-history.js';
import { MemoryLiveStore } from '../memory/memory-live-store.js';
import { OPERATIONS_MIGRATIONS } from './migrations.js';
import { PgProjectionStore } from './pg-projection-store.js';

let t: TestDatabase;
before(async () => {
  t = await openTestPglite('operations');
  await migrate(t.db, [...OUTBOX_MIGRATIONS, ...OPERATIONS_MIGRATIONS]);
});
after(async () => {
  await t?.dispose();
});

test('PGlite: live deliveries (shuffled, doubled) and a rebuild both equal the fold, in Postgres and the memory live store', async () => {
  const store = new PgProjectionStore(t.db);
  await store.ensure(OPERATIONS_PROJECTIONS);
  const live = new MemoryLiveStore();
  const sync = new LiveProjections(OPERATIONS_PROJECTIONS, store, live);
  await sync.sync();
  const { events } = scenario(31, 2, 40);
  for (const e of shuffled([...events, ...events], prng(9)))
    await sync.push(await t.db.transaction((tx) => store.applyLive(tx, OPERATIONS_PROJECTIONS, e)));
  const check = async (what: string) => {
    for (const p of OPERATIONS_PROJECTIONS) {
      const expected = plainState(foldProjection(p, events));
      assert.deepEqual(plainState(await store.dump(p.name)), expected, `${what}: ${p.name} in PGlite`);
      assert.deepEqual(plainState(await live.dump(p.name)), expected, `${what}: ${p.name} in memory`);
    }
  };
  await check('live');
  const summary = await rebuildProjections(
    { history: new MemoryEventHistory(events), store, live: sync, pageSize: 50 },
    OPERATIONS_PROJECTIONS,
  );
  assert.equal(summary.events, events.length);
  await check('rebuilt');
});
