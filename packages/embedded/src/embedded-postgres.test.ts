import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { waitFor } from '@albergue/platform/testing';
import { EmbeddedPostgres, linkLibraries } from './embedded-postgres.js';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

test(
  'one server, a database per service: isolated tables and NOTIFY channels, data kept across a restart, a second server on the folder refused',
  { timeout: 120_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'embedded-pg-'));
    const dir = join(dataDir, 'postgres');
    let server = await EmbeddedPostgres.start({ dir });
    try {
      const urls = await server.databases(['albergue_a', 'albergue_b']);
      assert.deepEqual(await server.databases(['albergue_a', 'albergue_b']), urls, 'creating again changes nothing');

      await withClient(urls.albergue_a!, (c) => c.query('CREATE TABLE outbox_events (id int); INSERT INTO outbox_events VALUES (1)'));
      await withClient(urls.albergue_b!, async (c) => {
        await assert.rejects(c.query('SELECT * FROM outbox_events'), /does not exist/, "b never sees a's tables");
      });

      // NOTIFY is per database: the same channel name in two services' databases does not cross.
      const heard: string[] = [];
      const listener = new pg.Client({ connectionString: urls.albergue_b });
      await listener.connect();
      listener.on('notification', (n) => heard.push(n.payload ?? ''));
      await listener.query('LISTEN outbox');
      await withClient(urls.albergue_a!, (c) => c.query(`SELECT pg_notify('outbox', 'from-a')`));
      await withClient(urls.albergue_b!, (c) => c.query(`SELECT pg_notify('outbox', 'from-b')`));
      await waitFor(() => heard.includes('from-b'), { timeoutMs: 5000, message: 'own NOTIFY' });
      assert.deepEqual(heard, ['from-b']);
      await listener.end();

      // A second server on the same folder, while the first runs: refused with a clear error.
      await assert.rejects(EmbeddedPostgres.start({ dir, takeoverWaitMs: 300 }), /in use \(server pid \d+\)/);

      // Another process (a CLI) finds the running server from the folder alone.
      const found = EmbeddedPostgres.runningUrl(dir, 'albergue_a');
      assert.ok(found, 'the running server is found from its folder');
      const seen = await withClient(found, (c) => c.query<{ id: number }>('SELECT id FROM outbox_events'));
      assert.deepEqual(seen.rows, [{ id: 1 }]);
      assert.equal(EmbeddedPostgres.runningUrl(dataDir, 'albergue_a'), undefined, 'a folder without a server: none');

      await server.stop();
      await server.stop(); // idempotent
      assert.equal(EmbeddedPostgres.runningUrl(dir, 'albergue_a'), undefined, 'a stopped server is not found');
      assert.equal(existsSync(join(dir, 'postmaster.pid')), false, 'a clean stop leaves no lock file');

      server = await EmbeddedPostgres.start({ dir });
      const rows = await withClient(server.url('albergue_a'), (c) => c.query<{ id: number }>('SELECT id FROM outbox_events'));
      assert.deepEqual(rows.rows, [{ id: 1 }], 'data kept across a restart');
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

test('a server that cannot start: the start fails with the reason from the server log', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'embedded-pg-bad-'));
  try {
    await assert.rejects(
      EmbeddedPostgres.start({ dir: join(dataDir, 'postgres'), settings: { shared_buffers: 'not-a-size' } }),
      /exited while starting[\s\S]*shared_buffers/,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an install that ran no scripts: the missing library symlinks are created from pg-symlinks.json, existing ones kept', () => {
  const pkg = mkdtempSync(join(tmpdir(), 'embedded-pg-links-'));
  try {
    mkdirSync(join(pkg, 'native', 'lib'), { recursive: true });
    writeFileSync(join(pkg, 'native', 'lib', 'libx.so.1.2'), 'library');
    writeFileSync(join(pkg, 'native', 'lib', 'libx.so'), 'a real file stays');
    writeFileSync(
      join(pkg, 'native', 'pg-symlinks.json'),
      JSON.stringify([
        { source: 'native/lib/libx.so.1.2', target: 'native/lib/libx.so.1' },
        { source: 'native/lib/libx.so.1.2', target: 'native/lib/libx.so' },
      ]),
    );
    linkLibraries(pkg);
    linkLibraries(pkg); // twice: nothing to do the second time
    assert.equal(readlinkSync(join(pkg, 'native', 'lib', 'libx.so.1')), 'libx.so.1.2');
    assert.equal(readFileSync(join(pkg, 'native', 'lib', 'libx.so.1'), 'utf8'), 'library');
    assert.equal(readFileSync(join(pkg, 'native', 'lib', 'libx.so'), 'utf8'), 'a real file stays');
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
});
