// The port contracts and the adapter's own promises on real Postgres (127.0.0.1:5432), in a
// uniquely named database dropped at the end, through a pool of 20 connections: the races in the
// contract run truly in parallel here. Plus what only real concurrency can show: who waits for whom.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@albergue/platform/testing';
import { bookingQueriesContract } from '../../application/contract/booking-queries.contract.js';
import { bookingRepositoryContract } from '../../application/contract/booking-repository.contract.js';
import { registerAlbergue, reserveDeps, stay, testClock } from '../../application/contract/fixtures.js';
import { reserveBooking } from '../../application/reserve-booking.js';
import { pgAdapterSuite } from './pg-adapter.suite.js';
import type { PgHarness } from './test-databases.js';
import { openPgHarness } from './test-databases.js';

let h: PgHarness | undefined;
const get = (): PgHarness => {
  if (!h) throw new Error('Postgres is not open');
  return h;
};

before(async () => {
  h = await openPgHarness(20);
});
after(async () => {
  await h?.close();
});

bookingRepositoryContract('pg', get);
bookingQueriesContract('pg', get);
pgAdapterSuite('pg', get);

/** A gate a transaction waits on, so a test can hold it open. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

async function lockWaiters(db: PgHarness['db']): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return rows[0]?.n ?? 0;
}

describe('pg: locking', () => {
  test('loadInventory holds the albergue until commit: a second transaction waits and then sees the committed occupancy; other albergues and reads do not wait', async () => {
    const { db, repo, queries } = get();
    const clock = testClock();
    const alb = await registerAlbergue(get(), 10);
    const other = await registerAlbergue(get(), 10);
    const night = clock.inDays(10);
    const release = gate();
    const locked = gate();
    let seenBySecond: number | undefined;
    const first = repo.transaction(async (tx) => {
      await tx.loadInventory(alb, [night]);
      await tx.adjustOccupancy(alb, [{ night, beds: 3 }]);
      locked.open();
      await release.wait;
    });
    let second: Promise<void> | undefined;
    try {
      await locked.wait;
      second = repo.transaction(async (tx) => {
        seenBySecond = (await tx.loadInventory(alb, [night]))?.taken[night];
      });
      await waitFor(async () => (await lockWaiters(db)) >= 1, { message: 'the second transaction to wait for the albergue lock' });
      assert.equal(seenBySecond, undefined, 'the second transaction read while the first held the lock');
      // Another albergue proceeds, and reads neither wait nor see uncommitted beds.
      assert.equal(await repo.transaction(async (tx) => (await tx.loadInventory(other, [night]))?.taken[night]), 0);
      assert.equal((await queries.inventory(alb, [night]))?.taken[night], 0);
      release.open();
      await first;
      await second;
      assert.equal(seenBySecond, 3);
    } finally {
      release.open();
      await Promise.allSettled([first, second]);
    }
  });

  test('dueHolds skips a booking another transaction holds locked (SKIP LOCKED) and sees it again once released', async () => {
    const { repo } = get();
    const clock = testClock();
    const alb = await registerAlbergue(get(), 10);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await reserveBooking(reserveDeps(get(), clock), stay(clock, alb));
      assert.ok(r.ok);
      ids.push(r.value.booking_id);
    }
    const [a, b, c] = ids;
    assert.ok(a && b && c);
    clock.advance(15 * 60_000);
    const release = gate();
    const locked = gate();
    const holder = repo.transaction(async (tx) => {
      await tx.loadBooking(b);
      locked.open();
      await release.wait;
    });
    try {
      await locked.wait;
      assert.deepEqual(await repo.dueHolds(clock.now(), 10), [a, c]);
    } finally {
      release.open();
      await holder;
    }
    assert.deepEqual(await repo.dueHolds(clock.now(), 10), [a, b, c]);
  });
});
