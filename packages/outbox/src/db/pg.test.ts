// PgDatabase's named prepared statements, on real Postgres.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PgDatabase } from './pg.js';
import { createTestDatabase } from '../testing.js';

let url: string;
let drop: () => Promise<void>;

before(async () => {
  ({ url, drop } = await createTestDatabase('outbox_pg_prepared'));
});

after(async () => {
  await drop();
});

/** Names of the statements prepared on the pool's connection (one connection: `max` 1). */
async function prepared(db: PgDatabase): Promise<string[]> {
  return (await db.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name);
}

test('parameterised statements run prepared once per connection, inside and outside transactions, up to the limit', async () => {
  const db = new PgDatabase(url, { max: 1, preparedStatements: 2 });
  try {
    await db.exec('CREATE TABLE prep_a (id int PRIMARY KEY, v text)');
    for (let i = 0; i < 3; i++) await db.query('INSERT INTO prep_a (id, v) VALUES ($1, $2)', [i, `v${i}`]);
    await db.transaction(async (tx) => {
      assert.deepEqual((await tx.query('SELECT v FROM prep_a WHERE id = $1', [1])).rows, [{ v: 'v1' }]);
      assert.equal((await tx.query('UPDATE prep_a SET v = $2 WHERE id = $1', [2, 'x'])).rowCount, 1); // third: over the limit
    });
    assert.deepEqual(await prepared(db), ['albergue_1', 'albergue_2']);
    assert.deepEqual((await db.query('SELECT v FROM prep_a WHERE id = $1', [2])).rows, [{ v: 'x' }]);
  } finally {
    await db.close();
  }
});

test('a prepared statement whose table changed shape runs again unnamed (in a transaction: the retry does)', async () => {
  const db = new PgDatabase(url, { max: 1 });
  try {
    await db.exec('CREATE TABLE prep_b (id int PRIMARY KEY); INSERT INTO prep_b VALUES (1)');
    const select = 'SELECT * FROM prep_b WHERE id = $1';
    assert.deepEqual((await db.query(select, [1])).rows, [{ id: 1 }]);
    await db.exec(`ALTER TABLE prep_b ADD COLUMN v text DEFAULT 'new'`);
    assert.deepEqual((await db.query(select, [1])).rows, [{ id: 1, v: 'new' }], 'outside a transaction it just works');

    const inTx = 'SELECT * FROM prep_b WHERE id = $1 AND true';
    await db.transaction((tx) => tx.query(inTx, [1]));
    await db.exec(`ALTER TABLE prep_b ADD COLUMN w text DEFAULT 'newer'`);
    await assert.rejects(
      db.transaction((tx) => tx.query(inTx, [1])),
      /cached plan must not change result type/,
    );
    const again = await db.transaction((tx) => tx.query(inTx, [1]));
    assert.deepEqual(again.rows, [{ id: 1, v: 'new', w: 'newer' }], 'the retry runs unnamed');
  } finally {
    await db.close();
  }
});
