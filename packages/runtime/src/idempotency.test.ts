// Idempotency-Key on real Postgres with test routes: both modes, two app instances on one database
// (a second service instance), a command that fails, a claim left behind by a crash, and the unit of
// work (nested transactions become savepoints; a failed one undoes only its own writes).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { newEventId } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import { migrate, PgDatabase, quoteIdent } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { createLogger, createMetricsRegistry } from '@albergue/platform';
import { expectProblem, uniqueName, waitFor } from '@albergue/platform/testing';
import { buildServiceHttp } from './http.js';
import { IDEMPOTENCY_MIGRATION } from './idempotency.js';
import { UnitOfWorkDatabase } from './unit-of-work.js';

interface Gate {
  open: () => void;
  wait: Promise<void>;
}
function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { open, wait };
}

describe('Idempotency-Key on Postgres', () => {
  const name = uniqueName('idem').toLowerCase();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const t = { db: undefined as unknown as SqlDatabase };
  const admin = async (sql: string) => {
    const a = new PgDatabase(PG_ADMIN_URL, { max: 1 });
    try {
      await a.exec(sql);
    } finally {
      await a.close();
    }
  };
  const apps: FastifyInstance[] = [];
  let slow: Gate | undefined;
  let entered = 0;

  /** One "instance": its own pool and app on the shared database. */
  async function instance(waitMs: number): Promise<{ app: FastifyInstance; db: SqlDatabase }> {
    const plain = await openPool();
    const db = new UnitOfWorkDatabase(plain);
    const logger = createLogger('idem-test', { level: 'silent' });
    const { app } = await buildServiceHttp({
      service: 'idem-test',
      logger,
      metrics: createMetricsRegistry('idem-test'),
      checks: {},
      idempotency: { db: plain, waitMs, leaseMs: 60_000 },
    });
    const handler = async (req: { body: unknown }) => {
      const { name } = req.body as { name: string };
      entered++;
      if (slow) await slow.wait;
      // Two commits, as a command that records an attempt before calling a provider.
      await db.transaction((tx) => tx.query('INSERT INTO effects (name, step) VALUES ($1, 1)', [name]));
      await db.transaction((tx) => tx.query('INSERT INTO effects (name, step) VALUES ($1, 2)', [name]));
      if (name === 'fail') throw new Error('provider down');
      return { name, n: (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM effects WHERE name = $1', [name])).rows[0]!.n };
    };
    app.post(
      '/lease',
      {
        config: { idempotency: 'lease' },
        schema: { body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
      },
      handler,
    );
    app.post(
      '/tx',
      { schema: { body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } },
      async (req, reply) => {
        const r = await handler(req);
        // A nested transaction that fails undoes only its own write.
        await db
          .transaction(async (tx) => {
            await tx.query('INSERT INTO effects (name, step) VALUES ($1, 3)', [r.name]);
            throw new Error('undo me');
          })
          .catch(() => undefined);
        return reply.code(201).send(r);
      },
    );
    await app.ready();
    apps.push(app);
    return { app, db };
  }

  const pools: SqlDatabase[] = [];
  function openPool(): Promise<SqlDatabase> {
    const db = new PgDatabase(url.toString(), { max: 10 });
    pools.push(db);
    return Promise.resolve(db);
  }

  before(async () => {
    await admin(`CREATE DATABASE ${quoteIdent(name)}`);
    t.db = await openPool();
    await migrate(t.db, [
      IDEMPOTENCY_MIGRATION,
      { version: 100, name: 'effects', sql: 'CREATE TABLE effects (name text NOT NULL, step int NOT NULL)' },
    ]);
  });
  after(async () => {
    for (const a of apps) await a.close();
    for (const p of pools) await p.close();
    await admin(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });

  const effects = async (name: string) =>
    Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM effects WHERE name = $1', [name])).rows[0]!.n);
  const call = (app: FastifyInstance, url: string, name: string, key?: string) =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      payload: JSON.stringify({ name }),
    });

  test('two instances, one key, concurrently (transaction mode) → one effect, one answer', async () => {
    const [a, b] = [await instance(5_000), await instance(5_000)];
    const key = newEventId();
    const answers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => call(i % 2 ? a.app : b.app, '/tx', 'tx-race', key)));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [201, 201, 201, 201, 201, 201],
    );
    assert.equal(new Set(answers.map((r) => r.body)).size, 1);
    assert.equal(new Set(answers.map((r) => r.headers['x-command-id'])).size, 1);
    assert.equal(await effects('tx-race'), 2, 'steps 1 and 2 once; step 3 undone by its savepoint');
  });

  test('lease mode: a repeat waits for the first and replays it; one effect', async () => {
    const { app } = await instance(5_000);
    const key = newEventId();
    slow = gate();
    entered = 0;
    const first = call(app, '/lease', 'lease-wait', key);
    await waitFor(() => entered === 1, { message: 'the first request to be running' });
    const second = call(app, '/lease', 'lease-wait', key);
    slow.open();
    slow = undefined;
    const [r1, r2] = await Promise.all([first, second]);
    assert.equal(r1.statusCode, 200, r1.body);
    assert.equal(r2.body, r1.body);
    assert.equal(r2.headers['idempotent-replayed'], 'true');
    assert.equal(entered, 1);
    assert.equal(await effects('lease-wait'), 2);
  });

  test('lease mode: a repeat that cannot wait gets 409 with Retry-After, and the answer later', async () => {
    const { app } = await instance(0);
    const key = newEventId();
    slow = gate();
    entered = 0;
    const first = call(app, '/lease', 'lease-409', key);
    await waitFor(() => entered === 1, { message: 'the first request to be running' });
    const busy = await call(app, '/lease', 'lease-409', key);
    expectProblem(busy, 409, 'idempotency_key_in_use');
    assert.equal(busy.headers['retry-after'], '1');
    slow.open();
    slow = undefined;
    const r1 = await first;
    const later = await call(app, '/lease', 'lease-409', key);
    assert.equal(later.body, r1.body);
    assert.equal(await effects('lease-409'), 2);
  });

  test('lease mode: a failed command (5xx) is not stored; the retry runs it again', async () => {
    const { app } = await instance(1_000);
    const key = newEventId();
    expectProblem(await call(app, '/lease', 'fail', key), 500, 'internal_error');
    assert.equal(
      Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = $1', [key])).rows[0]!.n),
      0,
    );
    expectProblem(await call(app, '/lease', 'fail', key), 500);
    assert.equal(await effects('fail'), 4, 'ran twice: nothing was stored for it');
  });

  test('lease mode: a claim left by a crashed instance is taken over once its lease lapsed', async () => {
    const { app } = await instance(200);
    const key = newEventId();
    const first = await call(app, '/lease', 'crashed', key);
    // Make it look like the instance died mid-command: in flight, lease over.
    await t.db.query(
      `UPDATE idempotency_keys SET state = 'in_flight', locked_until = now() - interval '1 second', response_status = NULL WHERE idempotency_key = $1`,
      [key],
    );
    const retry = await call(app, '/lease', 'crashed', key);
    assert.equal(retry.statusCode, 200);
    assert.equal(retry.headers['idempotent-replayed'], undefined);
    assert.notEqual(retry.body, first.body, 'ran again (the command itself must be idempotent)');
    // While a live lease is held, the key is not taken over.
    await t.db.query(
      `UPDATE idempotency_keys SET state = 'in_flight', locked_until = now() + interval '1 hour' WHERE idempotency_key = $1`,
      [key],
    );
    expectProblem(await call(app, '/lease', 'crashed', key), 409, 'idempotency_key_in_use');
  });

  test('without a key nothing is stored and every request runs', async () => {
    const { app } = await instance(0);
    const before = Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM idempotency_keys')).rows[0]!.n);
    assert.equal((await call(app, '/tx', 'no-key')).statusCode, 201);
    assert.equal((await call(app, '/tx', 'no-key')).statusCode, 201);
    assert.equal(await effects('no-key'), 4);
    assert.equal(Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM idempotency_keys')).rows[0]!.n), before);
  });
});
