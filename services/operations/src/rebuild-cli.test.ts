// The rebuild CLI next to `npm start`'s defaults: without OPERATIONS_DATABASE_URL it finds the
// running embedded Postgres from DATA_DIR (its Unix socket, database albergue_operations) and rebuilds
// there; a stopped embedded cluster, or a DATA_DIR without any operations database, is refused before
// anything is touched (an empty PGlite is never created and "rebuilt").
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmbeddedPostgres, databaseName } from '@albergue/embedded';
import { PgDatabase } from '@albergue/outbox';
import { MemoryEventHistory } from './adapters/history/memory-event-history.js';
import { startAuditStandIn } from './adapters/history/audit-stand-in.js';
import type { AuditStandIn } from './adapters/history/audit-stand-in.js';
import { runRebuildCli } from './rebuild-cli.js';
import { scenario } from './testing/scenario.js';

const run = async (env: Record<string, string>) => {
  const lines: string[] = [];
  const code = await runRebuildCli(['rebuild', '--', 'all'], env, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, text: lines.join('\n') };
};

describe('npm run projections:rebuild next to npm start (embedded defaults, DATA_DIR)', () => {
  let audit: AuditStandIn;
  const { events } = scenario(21, 2, 20);
  const dirs: string[] = [];
  const tmp = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `ops-rebuild-${name}-`));
    dirs.push(d);
    return d;
  };

  before(async () => {
    audit = await startAuditStandIn(new MemoryEventHistory(events));
  });
  after(async () => {
    await audit.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('a DATA_DIR without an operations database is refused, and nothing is created there', async () => {
    const dataDir = tmp('empty');
    const r = await run({ AUDIT_URL: audit.url, DATA_DIR: dataDir });
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, /refused: no operations database under .*set OPERATIONS_DATABASE_URL, or DATA_DIR/);
    assert.deepEqual(readdirSync(dataDir), [], 'no PGlite was created');
  });

  test('an embedded cluster whose server is not running is refused with what to do', async () => {
    const dataDir = tmp('stopped');
    mkdirSync(join(dataDir, 'postgres'));
    writeFileSync(join(dataDir, 'postgres', 'PG_VERSION'), '18\n');
    writeFileSync(join(dataDir, 'postgres', 'postmaster.pid'), `999999999\n${join(dataDir, 'postgres')}\n0\n5432\n/nowhere\n`); // stale
    const r = await run({ AUDIT_URL: audit.url, DATA_DIR: dataDir });
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, /refused: the embedded Postgres under .* is not running: start the system \(npm start\)/);
  });

  test(
    'with the embedded Postgres running, the rebuild finds it from DATA_DIR and rebuilds albergue_operations',
    { timeout: 120_000 },
    async () => {
      const dataDir = tmp('running');
      const server = await EmbeddedPostgres.start({ dir: join(dataDir, 'postgres') });
      try {
        const urls = await server.databases([databaseName('operations')]);
        const r = await run({ AUDIT_URL: audit.url, DATA_DIR: dataDir, REBUILD_PAGE_SIZE: '50' });
        assert.equal(r.code, 0, r.text);
        assert.match(r.text, /operations database: the running embedded Postgres under .*database albergue_operations/);
        assert.match(r.text, new RegExp(`done: ${events.length} events`));
        assert.match(r.text, /live store \(memory\) resyncs in the service/);
        const c = new PgDatabase(urls[databaseName('operations')]!);
        try {
          const { rows } = await c.query<{ projection: string; rebuilt_events: string }>(
            'SELECT projection, rebuilt_events FROM ops_projections WHERE rebuilt_at IS NOT NULL ORDER BY projection',
          );
          assert.deepEqual(
            rows.map((x) => x.projection),
            ['bookings', 'flows', 'occupancy', 'payments'],
          );
          assert.ok(rows.every((x) => Number(x.rebuilt_events) > 0));
        } finally {
          await c.close();
        }
      } finally {
        await server.stop();
      }
    },
  );
});
