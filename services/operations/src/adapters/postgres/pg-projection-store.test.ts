// The Postgres store with a live store on real Postgres and Redis: events applied live (shuffled,
// concurrent, delivered twice) give what a fold of the history gives, in both stores; a duplicate
// changes nothing; a rebuild through the audit API's HTTP contract (a loopback stand-in) equals the
// live projection, including events received live while it ran; an unreachable audit is refused; a
// Redis that goes away and comes back empty is caught up from Postgres.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import type { AlbergueEvent } from '@albergue/events';
import { deleteNamespace, startRedisServer } from '@albergue/messaging/testing';
import type { SqlDatabase } from '@albergue/outbox';
import { OUTBOX_MIGRATIONS, migrate } from '@albergue/outbox';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { openTestPostgres } from '@albergue/outbox/test-databases';
import { freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { OPERATIONS_PROJECTIONS } from '../../domain/operations-projections.js';
import { foldProjection } from '../../domain/projection.js';
import { LiveProjections } from '../../application/live-sync.js';
import type { LiveStore } from '../../application/ports.js';
import { rebuildProjections } from '../../application/rebuild.js';
import { plainState } from '../../testing/compare.js';
import { prng, scenario, shuffled } from '../../testing/scenario.js';
import { startAuditStandIn } from '../history/audit-stand-in.js';
import { HttpEventHistory } from '../history/http-event-history.js';
import { MemoryEventHistory } from '../history/memory-event-history.js';
import { RedisLiveStore } from '../redis/redis-live-store.js';
import { runRebuildCli } from '../../rebuild-cli.js';
import { OPERATIONS_MIGRATIONS } from './migrations.js';
import { PgProjectionStore } from './pg-projection-store.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Rig {
  readonly db: SqlDatabase;
  readonly store: PgProjectionStore;
  readonly live: LiveStore;
  readonly sync: LiveProjections;
  /** Applies one event as the handler does: in a transaction, copied to the live store after commit. */
  deliver(e: AlbergueEvent): Promise<number>;
  dispose(): Promise<void>;
}

async function rig(redisUrl = REDIS): Promise<Rig> {
  const t: TestDatabase = await openTestPostgres('operations');
  await migrate(t.db, [...OUTBOX_MIGRATIONS, ...OPERATIONS_MIGRATIONS]);
  const store = new PgProjectionStore(t.db);
  await store.ensure(OPERATIONS_PROJECTIONS);
  const namespace = `${uniqueName('operations-pg')}:`;
  const live = new RedisLiveStore({ url: redisUrl, namespace, commandTimeoutMs: 1000 });
  const sync = new LiveProjections(OPERATIONS_PROJECTIONS, store, live);
  await sync.sync();
  return {
    db: t.db,
    store,
    live,
    sync,
    async deliver(e) {
      const changed = await t.db.transaction((tx) => store.applyLive(tx, OPERATIONS_PROJECTIONS, e));
      await sync.push(changed);
      return changed.size;
    },
    async dispose() {
      await live.close();
      await t.dispose();
      await deleteNamespace(redisUrl, namespace).catch(() => undefined);
    },
  };
}

async function assertEveryProjection(r: Rig, events: readonly AlbergueEvent[], what: string): Promise<void> {
  for (const p of OPERATIONS_PROJECTIONS) {
    const expected = plainState(foldProjection(p, events));
    assert.deepEqual(plainState(await r.store.dump(p.name)), expected, `${what}: ${p.name} in Postgres`);
    assert.deepEqual(plainState(await r.live.dump(p.name)), expected, `${what}: ${p.name} in the live store`);
  }
}

describe('PgProjectionStore with a Redis live store', () => {
  let r: Rig;
  before(async () => {
    r = await rig();
  });
  after(async () => {
    await r?.dispose();
  });

  test('events delivered shuffled, concurrently (8 at a time) and each a second time: both stores equal the fold of the history', async () => {
    const { events } = scenario(11, 3, 120);
    const order = shuffled([...events, ...events], prng(3));
    for (let i = 0; i < order.length; i += 8) await Promise.all(order.slice(i, i + 8).map((e) => r.deliver(e)));
    await assertEveryProjection(r, events, 'after live delivery');
  });

  test('a duplicate changes nothing in either store: no row, no version, no push', async () => {
    const { events } = scenario(12, 1, 10);
    for (const e of events) await r.deliver(e);
    const versions = async () => (await r.db.query('SELECT projection, key, version FROM ops_entities ORDER BY 1, 2')).rows;
    const before = { pg: await versions(), live: await Promise.all(OPERATIONS_PROJECTIONS.map((p) => r.live.dump(p.name))) };
    for (const e of events) assert.equal(await r.deliver(e), 0, `${e.event_type} applied twice`);
    assert.deepEqual(await versions(), before.pg);
    assert.deepEqual(await Promise.all(OPERATIONS_PROJECTIONS.map((p) => r.live.dump(p.name))), before.live);
  });

  test('rebuild through the audit HTTP contract equals the live projection, also with events the audit had not recorded yet', async () => {
    const rebuilt = await rig();
    try {
      const { events } = scenario(13, 3, 150);
      // The audit trail recorded the first 80 %, in another order than the live deliveries.
      const recorded = shuffled(events.slice(0, Math.floor(events.length * 0.8)), prng(5));
      for (const e of shuffled(events, prng(6))) await rebuilt.deliver(e);
      const audit = await startAuditStandIn(new MemoryEventHistory(recorded), { maxLimit: 100 });
      try {
        const pages: number[] = [];
        const summary = await rebuildProjections(
          {
            history: new HttpEventHistory(audit.url),
            store: rebuilt.store,
            live: rebuilt.sync,
            pageSize: 100,
            onProgress: (p) => pages.push(p.pages),
          },
          OPERATIONS_PROJECTIONS,
        );
        assert.equal(summary.events, recorded.length);
        assert.equal(summary.pages, Math.ceil(recorded.length / 100));
        assert.deepEqual(
          pages,
          Array.from({ length: summary.pages }, (_, i) => i + 1),
          'progress after every page',
        );
        const caughtUp = summary.projections.reduce((t, p) => t + p.caughtUp, 0);
        assert.ok(caughtUp > 0, 'events only the journal had were applied at the swap');
        assert.ok(summary.projections.every((p) => p.liveResynced));
      } finally {
        await audit.close();
      }
      await assertEveryProjection(rebuilt, events, 'after the rebuild');
      // Events the rebuild took from the audit arrive live afterwards (a redelivery): nothing changes.
      for (const e of recorded.slice(0, 30)) assert.equal(await rebuilt.deliver(e), 0);
      await assertEveryProjection(rebuilt, events, 'after late redeliveries');
      const status = await rebuilt.store.status();
      assert.ok(status.every((s) => s.rebuilt_at !== null));
    } finally {
      await rebuilt.dispose();
    }
  });

  test('the CLI refuses clearly when AUDIT_URL is unreachable, and touches nothing', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const code = await runRebuildCli(
      ['rebuild', 'all'],
      { AUDIT_URL: `http://127.0.0.1:${port}` },
      { out: (l) => lines.push(l), err: (l) => lines.push(l), db: r.db },
    );
    assert.equal(code, 2);
    assert.match(
      lines.join('\n'),
      new RegExp(`refused: cannot reach the audit service at http://127.0.0.1:${port}.*ECONNREFUSED.*AUDIT_URL`),
    );
    const bad = await runRebuildCli(['rebuild', 'nonsense'], {}, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    assert.equal(bad, 2);
    assert.match(lines.at(-1)!, /unknown projection nonsense/s);
  });

  test('the CLI rebuilds one projection with progress lines, from a stand-in audit service', async () => {
    const { events } = scenario(14, 2, 30);
    const audit = await startAuditStandIn(new MemoryEventHistory(events));
    const lines: string[] = [];
    try {
      const code = await runRebuildCli(
        ['rebuild', 'payments'],
        { AUDIT_URL: audit.url, REBUILD_PAGE_SIZE: '10' },
        { out: (l) => lines.push(l), err: (l) => lines.push(l), db: r.db, live: r.live },
      );
      assert.equal(code, 0, lines.join('\n'));
    } finally {
      await audit.close();
    }
    assert.match(lines.join('\n'), /page 1: 10 events, \d+ events\/s/);
    assert.match(lines.join('\n'), /payments: \d+ events, \d+ entities, \d+ caught up from the journal; live store \(redis\) resynced/);
  });
});

describe('a live store that goes away', () => {
  test('Postgres stays right while Redis is down; Redis restarted empty is resynced from Postgres', async () => {
    // A redis-server of this test's own (no AOF): killed, then started again empty.
    const redis = await startRedisServer();
    const r = await rig(redis.url);
    try {
      const { events } = scenario(15, 2, 60);
      const half = Math.floor(events.length / 2);
      for (const e of events.slice(0, half)) await r.deliver(e);
      await redis.kill('SIGKILL');
      for (const e of events.slice(half)) await r.deliver(e); // pushes fail: marked for a resync
      assert.ok(OPERATIONS_PROJECTIONS.some((p) => r.sync.isStale(p.name)));
      for (const p of OPERATIONS_PROJECTIONS)
        assert.deepEqual(
          plainState(await r.store.dump(p.name)),
          plainState(foldProjection(p, events)),
          `${p.name} in Postgres during the outage`,
        );
      assert.deepEqual(await r.sync.sync(), [], 'nothing resyncs while Redis is away');
      await redis.restart(); // empty: no AOF
      await waitFor(
        async () =>
          (await r.sync.sync()).length === OPERATIONS_PROJECTIONS.length || OPERATIONS_PROJECTIONS.every((p) => !r.sync.isStale(p.name)),
        {
          timeoutMs: 20_000,
          message: 'every projection resynced',
        },
      );
      await assertEveryProjection(r, events, 'after Redis came back empty');
    } finally {
      await r.dispose();
      await redis.stop();
    }
  });
});
