// The AlbergueQueries contract, run against every adapter: the read side answers from the projection
// that AlbergueRepository.save writes in the command's transaction.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { newEventId } from '@albergue/events';
import type { AlbergueStoreFixture, AlbergueStoreHarness } from './albergue-repository.contract.js';
import type { AlbergueRecord } from './ports.js';
import { albergueView } from './support.js';

let counter = 0;
const unique = (prefix: string) => `${prefix}-q${process.pid}-${++counter}`;

interface Spec {
  readonly name: string;
  readonly town: string;
  readonly route?: string;
  readonly lon: number;
  readonly beds?: number;
  readonly registered_at?: string;
  readonly capacity_changes?: readonly { effective_from: string; beds: number }[];
}

function albergue(spec: Spec): AlbergueRecord {
  const registration = {
    albergue_id: unique('alb'),
    name: spec.name,
    town: spec.town,
    route: spec.route ?? 'Camino Francés',
    location: { lat: 42.5 + spec.lon / 100, lon: spec.lon },
    beds: spec.beds ?? 30,
    nightly_price: { amount_minor: 1250, currency: 'EUR' },
  };
  return {
    state: {
      status: 'registered',
      albergue: spec.registered_at === undefined ? registration : { ...registration, registered_at: spec.registered_at },
      capacity_changes: spec.capacity_changes ?? [],
    },
    last_event_id: newEventId(),
  };
}

export function albergueQueriesContract(h: AlbergueStoreHarness): void {
  let f: AlbergueStoreFixture;
  const store = async (...records: AlbergueRecord[]) => {
    for (const r of records) await f.repo.transaction((tx) => tx.save(r));
  };
  const id = (r: AlbergueRecord) => r.state.albergue.albergue_id;

  describe(`${h.label}: AlbergueQueries port`, () => {
    beforeEach(async () => {
      f = await h.fresh();
    });

    test('unknown albergue → undefined; nothing registered → empty list', async () => {
      assert.equal(await f.queries.findAlbergue('no-such-albergue', '2025-05-10'), undefined);
      assert.deepEqual(await f.queries.listAlbergues({}, '2025-05-10'), []);
    });

    test('an albergue reads back as albergueView(state, today): beds follow the capacity schedule night by night', async () => {
      const r = albergue({
        name: 'Albergue Municipal',
        town: 'Burgos',
        lon: -3.7061,
        beds: 150,
        registered_at: '2025-05-10T09:00:00.000Z',
        capacity_changes: [
          { effective_from: '2025-06-01', beds: 120 },
          { effective_from: '2025-07-01', beds: 0 },
          { effective_from: '2025-07-15', beds: 90 },
        ],
      });
      await store(r);
      for (const today of ['2025-05-31', '2025-06-01', '2025-06-30', '2025-07-01', '2025-07-14', '2025-07-15', '2030-01-01']) {
        const expected = albergueView(r.state, today);
        assert.deepEqual(await f.queries.findAlbergue(id(r), today), expected, today);
        assert.deepEqual(await f.queries.listAlbergues({}, today), [expected], today);
      }
      assert.equal((await f.queries.findAlbergue(id(r), '2025-06-15'))?.beds, 120);
      assert.equal((await f.queries.findAlbergue(id(r), '2025-07-10'))?.beds, 0);
    });

    test('an albergue registered without registered_at has none in its view', async () => {
      const r = albergue({ name: 'Sin fecha', town: 'León', lon: -5.5668 });
      await store(r);
      const view = await f.queries.findAlbergue(id(r), '2025-05-10');
      assert.deepEqual(view, albergueView(r.state, '2025-05-10'));
      assert.equal(view && 'registered_at' in view, false);
    });

    test('the view follows updates of the albergue', async () => {
      const r = albergue({ name: 'Cambia', town: 'Sarria', lon: -7.41, beds: 40 });
      await store(r);
      const changed: AlbergueRecord = {
        state: { ...r.state, capacity_changes: [{ effective_from: '2025-05-10', beds: 25 }] },
        last_event_id: newEventId(),
      };
      await f.repo.transaction(async (tx) => {
        await tx.load(id(r));
        await tx.save(changed);
      });
      assert.equal((await f.queries.findAlbergue(id(r), '2025-05-10'))?.beds, 25);
      assert.equal((await f.queries.findAlbergue(id(r), '2025-05-09'))?.beds, 40);
    });

    test('list: east to west (longitude descending), then by name; filtered by route and town', async () => {
      const santiago = albergue({ name: 'Seminario Menor', town: 'Santiago de Compostela', lon: -8.5346 });
      const leon = albergue({ name: 'Santa María', town: 'León', lon: -5.5668 });
      const pamplonaB = albergue({ name: 'Albergue B', town: 'Pamplona', lon: -1.6441 });
      const pamplonaA = albergue({ name: 'Albergue A', town: 'Pamplona', lon: -1.6441 });
      const portugues = albergue({ name: 'Albergue de Tui', town: 'Tui', route: 'Camino Portugués', lon: -8.6447 });
      await store(santiago, portugues, pamplonaB, leon, pamplonaA);
      const today = '2025-05-10';
      const ids = async (filter: { route?: string; town?: string }) =>
        (await f.queries.listAlbergues(filter, today)).map((v) => v.albergue_id);
      assert.deepEqual(await ids({}), [pamplonaA, pamplonaB, leon, santiago, portugues].map(id));
      assert.deepEqual(await ids({ route: 'Camino Francés' }), [pamplonaA, pamplonaB, leon, santiago].map(id));
      assert.deepEqual(await ids({ town: 'Pamplona' }), [pamplonaA, pamplonaB].map(id));
      assert.deepEqual(await ids({ route: 'Camino Portugués', town: 'Tui' }), [id(portugues)]);
      assert.deepEqual(await ids({ route: 'Camino Portugués', town: 'Pamplona' }), []);
      assert.deepEqual((await f.queries.listAlbergues({ town: 'León' }, today))[0], albergueView(leon.state, today));
    });
  });
}
