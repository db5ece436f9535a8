// The AlbergueRepository / AlbergueTransaction contract, run against every adapter (memory, Postgres
// on pg, Postgres on PGlite): the port itself, then location's application handlers on it.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { AlbergueCapacityChanged, newEnvelope, newEventId } from '@albergue/events';
import type { AlbergueState } from '../domain/albergue.js';
import { CAMINO_FRANCES_SEED } from '../domain/seed.js';
import { changeCapacity } from './change-capacity.js';
import type { AlbergueQueries, AlbergueRecord, AlbergueRepository, AlbergueTransaction } from './ports.js';
import { AlbergueConflictError } from './ports.js';
import { getAlbergue, listAlbergues } from './queries.js';
import type { RegisterAlbergueInput } from './register-albergue.js';
import { registerAlbergue } from './register-albergue.js';
import { seedAlbergues } from './seed-albergues.js';

/** One adapter under test, emptied before each test. */
export interface AlbergueStoreFixture {
  readonly repo: AlbergueRepository;
  readonly queries: AlbergueQueries;
  /** Runs `work` in a transaction opened outside the repository (Postgres: db.transaction + repo.forTransaction(tx)). */
  inTransaction<T>(work: (tx: AlbergueTransaction) => Promise<T>): Promise<T>;
  /** Every envelope appended to the outbox, in append order. */
  outbox(): Promise<EventEnvelope[]>;
  /**
   * Real Postgres only: resolves once some session waits on a lock (to order concurrent
   * transactions without sleeping). Absent where transactions run one at a time (memory, PGlite).
   */
  readonly someoneWaitsForALock?: () => Promise<void>;
}

export interface AlbergueStoreHarness {
  readonly label: string;
  /** The adapter with no albergues and no outbox rows. */
  fresh(): Promise<AlbergueStoreFixture>;
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

function registered(albergue_id = unique('alb'), beds = 20): AlbergueRecord {
  return {
    state: {
      status: 'registered',
      albergue: {
        albergue_id,
        name: 'Albergue de Prueba',
        town: 'Sarria',
        route: 'Camino Francés',
        location: { lat: 42.7805, lon: -7.4141 },
        beds,
        nightly_price: { amount_minor: 1200, currency: 'EUR' },
        registered_at: '2025-05-10T09:00:00.000Z',
      },
      capacity_changes: [],
    },
    last_event_id: newEventId(),
  };
}

function withCapacity(r: AlbergueRecord, ...changes: { effective_from: string; beds: number }[]): AlbergueRecord {
  const state: AlbergueState = { ...r.state, capacity_changes: changes };
  assert.ok(state.status === 'registered');
  return { state, last_event_id: newEventId() };
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** A repository whose transactions pause after appending to the outbox until `release` (not yet committed). */
function pausingRepo(inner: AlbergueRepository): { repo: AlbergueRepository; paused: Promise<void>; release: () => void } {
  const paused = gate();
  const release = gate();
  const repo: AlbergueRepository = {
    transaction: (work) =>
      inner.transaction((tx) =>
        work({
          load: (id) => tx.load(id),
          save: (record) => tx.save(record),
          appendToOutbox: async (envelopes) => {
            await tx.appendToOutbox(envelopes);
            paused.open();
            await release.wait;
          },
        }),
      ),
  };
  return { repo, paused: paused.wait, release: release.open };
}

const clock = { now: () => new Date('2025-05-10T09:00:00.000Z') };
const config = { timeZone: 'Europe/Madrid' };

function registration(albergue_id: string, name = 'Albergue de Sarria'): RegisterAlbergueInput {
  return {
    albergue_id,
    name,
    town: 'Sarria',
    route: 'Camino Francés',
    location: { lat: 42.78, lon: -7.41 },
    beds: 20,
    nightly_price: { amount_minor: 1200, currency: 'EUR' },
    command_id: unique('req'),
  };
}

export function albergueRepositoryContract(h: AlbergueStoreHarness): void {
  let f: AlbergueStoreFixture;
  const deps = (repo: AlbergueRepository = f.repo) => ({ repo, queries: f.queries, clock, ids: () => unique('alb'), config });

  describe(`${h.label}: AlbergueRepository`, () => {
    beforeEach(async () => {
      f = await h.fresh();
    });

    describe('the port', () => {
      test('save, then load → the same record; an unknown id → undefined', async () => {
        const r = registered();
        await f.repo.transaction((tx) => tx.save(r));
        assert.deepEqual(await f.repo.transaction((tx) => tx.load(r.state.albergue.albergue_id)), r);
        assert.equal(await f.repo.transaction((tx) => tx.load('no-such-albergue')), undefined);
      });

      test('a loaded albergue is updated in place (capacity schedule, last_event_id), also through forTransaction', async () => {
        const r = registered();
        const id = r.state.albergue.albergue_id;
        await f.inTransaction((tx) => tx.save(r));
        const changed = withCapacity(r, { effective_from: '2025-06-01', beds: 12 }, { effective_from: '2025-07-01', beds: 0 });
        await f.inTransaction(async (tx) => {
          assert.deepEqual(await tx.load(id), r);
          await tx.save(changed);
        });
        assert.deepEqual(await f.repo.transaction((tx) => tx.load(id)), changed);
      });

      test('a unit of work that throws stores nothing: no albergue, no view, no outbox row', async () => {
        const r = registered();
        const event = newEnvelope(AlbergueCapacityChanged, {
          albergue_id: r.state.albergue.albergue_id,
          beds: 3,
          previous_beds: 20,
          effective_from: '2025-06-01',
        });
        await assert.rejects(
          f.repo.transaction(async (tx) => {
            await tx.save(r);
            await tx.appendToOutbox([event]);
            throw new Error('validation failed late');
          }),
          /validation failed late/,
        );
        assert.equal(await f.repo.transaction((tx) => tx.load(r.state.albergue.albergue_id)), undefined);
        assert.equal(await f.queries.findAlbergue(r.state.albergue.albergue_id, '2025-05-10'), undefined);
        assert.deepEqual(await f.outbox(), []);
      });

      test('appendToOutbox keeps the order of the envelopes; an empty list appends nothing', async () => {
        const id = unique('alb');
        const envelopes = [20, 10, 5].map((beds) =>
          newEnvelope(AlbergueCapacityChanged, { albergue_id: id, beds, previous_beds: 30, effective_from: '2025-06-01' }),
        );
        await f.inTransaction(async (tx) => {
          await tx.appendToOutbox([]);
          await tx.appendToOutbox(envelopes);
        });
        assert.deepEqual(await f.outbox(), envelopes);
      });

      test('an insert never overwrites: saving an albergue the transaction did not load, when it exists → AlbergueConflictError', async () => {
        const first = registered();
        const id = first.state.albergue.albergue_id;
        await f.repo.transaction((tx) => tx.save(first));
        const second = registered(id, 99);
        await assert.rejects(
          f.inTransaction((tx) => tx.save(second)),
          AlbergueConflictError,
        );
        await assert.rejects(
          f.repo.transaction((tx) => tx.save(second)),
          AlbergueConflictError,
        );
        assert.deepEqual(await f.repo.transaction((tx) => tx.load(id)), first);
        assert.equal((await f.queries.findAlbergue(id, '2025-05-10'))?.beds, 20);
      });

      test('a loaded albergue is locked: a second transaction loading it waits for the first commit and sees its write', async () => {
        const r = registered();
        const id = r.state.albergue.albergue_id;
        await f.repo.transaction((tx) => tx.save(r));
        const inFirst = gate();
        const releaseFirst = gate();
        const changed = withCapacity(r, { effective_from: '2025-06-01', beds: 5 });
        const first = f.repo.transaction(async (tx) => {
          await tx.load(id);
          await tx.save(changed);
          inFirst.open();
          await releaseFirst.wait;
        });
        await inFirst.wait;
        const second = f.repo.transaction((tx) => tx.load(id));
        if (f.someoneWaitsForALock) await f.someoneWaitsForALock();
        releaseFirst.open();
        await first;
        assert.deepEqual(await second, changed);
      });
    });

    describe('location handlers on it', () => {
      test('register → AlbergueRegistered starting its own flow, caused by the request; readable at once', async () => {
        const input = registration(unique('alb'));
        const r = await registerAlbergue(deps(), input);
        assert.ok(r.ok);
        const [e] = await f.outbox();
        assert.equal(e?.event_type, 'AlbergueRegistered');
        assert.equal(e.correlation_id, e.event_id);
        assert.equal(e.causation_id, input.command_id);
        assert.deepEqual(await getAlbergue(deps(), r.value.albergue_id), r.value);
      });

      test('registering an id again → albergue_exists; the first registration is kept, one event', async () => {
        const id = unique('alb');
        assert.ok((await registerAlbergue(deps(), registration(id, 'The First'))).ok);
        const again = await registerAlbergue(deps(), registration(id, 'The Second'));
        assert.ok(!again.ok);
        assert.equal(again.errors[0].code, 'albergue_exists');
        assert.equal((await getAlbergue(deps(), id))?.name, 'The First');
        assert.equal((await f.outbox()).length, 1);
      });

      test('two registrations of one id racing → one wins, the other gets albergue_exists (primary key, never overwritten)', async () => {
        const id = unique('alb');
        const pausing = pausingRepo(f.repo);
        const first = registerAlbergue(deps(pausing.repo), registration(id, 'The First'));
        await pausing.paused; // inserted, not committed
        const second = registerAlbergue(deps(), registration(id, 'The Second'));
        if (f.someoneWaitsForALock) await f.someoneWaitsForALock(); // the second insert waits on the first's row
        pausing.release();
        const [a, b] = await Promise.all([first, second]);
        assert.ok(a.ok);
        assert.ok(!b.ok && b.errors[0].code === 'albergue_exists');
        assert.equal((await getAlbergue(deps(), id))?.name, 'The First');
        assert.deepEqual(
          (await f.outbox()).map((e) => e.event_type),
          ['AlbergueRegistered'],
        );
      });

      test('many registrations of one id at once → exactly one succeeds', async () => {
        const id = unique('alb');
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => registerAlbergue(deps(), registration(id, `Albergue ${i}`))));
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.ok(results.every((r) => r.ok || r.errors[0].code === 'albergue_exists'));
        assert.equal((await f.outbox()).length, 1);
      });

      test('change capacity → AlbergueCapacityChanged; the same again → no event; the view shows the schedule', async () => {
        await seedAlbergues(deps());
        const before = (await f.outbox()).length;
        const c = await changeCapacity(deps(), { albergue_id: 'burgos-casa-del-cubo', beds: 120, effective_from: '2025-06-01' });
        assert.ok(c.ok);
        assert.deepEqual(c.events[0]?.payload, {
          albergue_id: 'burgos-casa-del-cubo',
          beds: 120,
          previous_beds: 150,
          effective_from: '2025-06-01',
        });
        const again = await changeCapacity(deps(), { albergue_id: 'burgos-casa-del-cubo', beds: 120, effective_from: '2025-06-01' });
        assert.ok(again.ok && again.ignored?.code === 'capacity_unchanged');
        assert.equal((await f.outbox()).length, before + 1);
        const view = await getAlbergue(deps(), 'burgos-casa-del-cubo');
        assert.equal(view?.beds, 150);
        assert.deepEqual(view.capacity_schedule, [
          { effective_from: null, beds: 150 },
          { effective_from: '2025-06-01', beds: 120 },
        ]);
        const today = await changeCapacity(deps(), { albergue_id: 'burgos-casa-del-cubo', beds: 140 });
        assert.ok(today.ok);
        assert.equal((await getAlbergue(deps(), 'burgos-casa-del-cubo'))?.beds, 140);
        const unknown = await changeCapacity(deps(), { albergue_id: 'nope', beds: 3 });
        assert.ok(!unknown.ok && unknown.errors[0].code === 'albergue_not_found');
      });

      test('seeding twice is safe: every seed albergue registered once, the second run emits nothing', async () => {
        assert.equal((await seedAlbergues(deps())).length, CAMINO_FRANCES_SEED.length);
        assert.deepEqual(await seedAlbergues(deps()), []);
        assert.equal((await f.outbox()).length, CAMINO_FRANCES_SEED.length);
        const list = await listAlbergues(deps(), { route: 'Camino Francés' });
        assert.deepEqual(
          list.map((a) => a.albergue_id),
          CAMINO_FRANCES_SEED.map((a) => a.albergue_id),
        );
      });
    });
  });
}
