// The contract every LiveStore adapter passes (memory, Redis): generations, newest version wins per
// row, index membership follows the entity, a resync replaces everything and keeps what is pushed
// meanwhile, one resync at a time.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { flows, bookings } from '../domain/operations-projections.js';
import type { LiveStore, Snapshot } from './ports.js';

export interface LiveStoreFixture {
  readonly store: LiveStore;
  dispose(): Promise<void>;
}

const snapshot = (epoch: number, over: Partial<Snapshot> = {}): Snapshot => ({ epoch, entities: [], counters: [], ...over });
const flow = (status: string, reservedAt = '2031-01-01T00:00:00.000Z') => ({ status, albergue_id: 'a', reserved_at: reservedAt });

export function liveStoreContract(name: string, make: () => Promise<LiveStoreFixture>): void {
  describe(`LiveStore contract: ${name}`, () => {
    const withStore = async (fn: (s: LiveStore) => Promise<void>) => {
      const f = await make();
      try {
        await fn(f.store);
      } finally {
        await f.dispose();
      }
    };

    test('without a generation: push is refused, epoch undefined, reads are empty', () =>
      withStore(async (s) => {
        assert.equal(await s.push(bookings, { entities: [], counters: [{ key: 'all', field: 'reserved', value: 1, version: 1 }] }), false);
        assert.equal(await s.epoch(bookings), undefined);
        assert.deepEqual(await s.counters(bookings.name, 'all'), {});
        assert.deepEqual(await s.counterKeys(bookings.name), []);
        assert.deepEqual(await s.entities(bookings.name, ['booking:x']), [undefined]);
        assert.deepEqual(await s.indexRange(flows.name, 'in_flight', 10), { members: [], total: 0 });
      }));

    test('a resync creates the generation with its epoch, even when empty; rows read back', () =>
      withStore(async (s) => {
        assert.equal(await s.resync(bookings, () => Promise.resolve(snapshot(0))), true);
        assert.equal(await s.epoch(bookings), 0);
        const rows = snapshot(3, {
          entities: [{ key: 'booking:b1', doc: { status: 'reserved', albergue_id: 'a' }, version: 5, indexes: [] }],
          counters: [
            { key: 'all', field: 'reserved', value: 2, version: 6 },
            { key: 'albergue:a', field: 'reserved', value: 2, version: 7 },
          ],
        });
        assert.equal(await s.resync(bookings, () => Promise.resolve(rows)), true);
        assert.equal(await s.epoch(bookings), 3);
        assert.deepEqual(await s.counters(bookings.name, 'all'), { reserved: 2 });
        assert.deepEqual(await s.counterKeys(bookings.name), ['albergue:a', 'all']);
        assert.deepEqual(await s.entities(bookings.name, ['booking:b1', 'booking:none']), [
          { status: 'reserved', albergue_id: 'a' },
          undefined,
        ]);
      }));

    test('the newest version of a row wins: a late or repeated copy changes nothing', () =>
      withStore(async (s) => {
        await s.resync(bookings, () => Promise.resolve(snapshot(1)));
        const c = (value: number, version: number) => ({ entities: [], counters: [{ key: 'all', field: 'confirmed', value, version }] });
        assert.equal(await s.push(bookings, c(5, 10)), true);
        await s.push(bookings, c(4, 9)); // late
        await s.push(bookings, c(7, 10)); // same version again
        assert.deepEqual(await s.counters(bookings.name, 'all'), { confirmed: 5 });
        await s.push(bookings, c(6, 11));
        assert.deepEqual(await s.counters(bookings.name, 'all'), { confirmed: 6 });
        const e = (status: string, version: number) => ({
          entities: [{ key: 'booking:b', doc: { status, albergue_id: 'a' }, version, indexes: [] }],
          counters: [],
        });
        await s.push(bookings, e('confirmed', 20));
        await s.push(bookings, e('reserved', 19));
        assert.deepEqual(await s.entities(bookings.name, ['booking:b']), [{ status: 'confirmed', albergue_id: 'a' }]);
      }));

    test('index membership follows the entity: added, ordered by score, removed when the row has no entry', () =>
      withStore(async (s) => {
        await s.resync(flows, () => Promise.resolve(snapshot(1)));
        const row = (key: string, score: number | undefined, version: number) => ({
          key,
          doc: flow(score === undefined ? 'confirmed' : 'reserved'),
          version,
          indexes: score === undefined ? [] : [{ index: 'in_flight', score }],
        });
        await s.push(flows, {
          entities: [row('booking:late', 3_000, 1), row('booking:early', 1_000, 2), row('booking:mid', 2_000, 3)],
          counters: [],
        });
        assert.deepEqual(await s.indexRange(flows.name, 'in_flight', 2), {
          members: [
            { key: 'booking:early', score: 1_000 },
            { key: 'booking:mid', score: 2_000 },
          ],
          total: 3,
        });
        await s.push(flows, { entities: [row('booking:early', undefined, 4)], counters: [] });
        await s.push(flows, { entities: [row('booking:mid', 2_000, 2)], counters: [] }); // stale: no effect
        assert.deepEqual(
          (await s.indexRange(flows.name, 'in_flight', 10)).members.map((m) => m.key),
          ['booking:mid', 'booking:late'],
        );
      }));

    test('a resync replaces the projection and keeps what was pushed while it loaded; a second resync meanwhile is refused', () =>
      withStore(async (s) => {
        await s.resync(bookings, () =>
          Promise.resolve(snapshot(1, { counters: [{ key: 'old', field: 'reserved', value: 1, version: 1 }] })),
        );
        let second: boolean | undefined;
        const ok = await s.resync(bookings, async () => {
          // Pushed after the new generation was opened, before the snapshot is copied: it must survive.
          await s.push(bookings, { entities: [], counters: [{ key: 'all', field: 'expired', value: 9, version: 50 }] });
          second = await s.resync(bookings, () => Promise.resolve(snapshot(99)));
          return snapshot(2, {
            counters: [
              { key: 'all', field: 'expired', value: 8, version: 40 },
              { key: 'all', field: 'reserved', value: 3, version: 41 },
            ],
          });
        });
        assert.equal(ok, true);
        assert.equal(second, false, 'one resync at a time');
        assert.equal(await s.epoch(bookings), 2);
        assert.deepEqual(await s.counters(bookings.name, 'all'), { expired: 9, reserved: 3 });
        assert.deepEqual(await s.counterKeys(bookings.name), ['all'], 'the old generation is gone');
      }));

    test('dump leaves zero counters out', () =>
      withStore(async (s) => {
        await s.resync(bookings, () => Promise.resolve(snapshot(1)));
        await s.push(bookings, {
          entities: [{ key: 'booking:b', doc: { status: 'expired', albergue_id: 'a' }, version: 3, indexes: [] }],
          counters: [
            { key: 'all', field: 'reserved', value: 0, version: 1 },
            { key: 'all', field: 'expired', value: 1, version: 2 },
          ],
        });
        const d = await s.dump(bookings.name);
        assert.deepEqual(
          [...d.counters].map(([k, f]) => [k, [...f]]),
          [['all', [['expired', 1]]]],
        );
        assert.deepEqual([...d.entities], [['booking:b', { status: 'expired', albergue_id: 'a' }]]);
      }));
  });
}
