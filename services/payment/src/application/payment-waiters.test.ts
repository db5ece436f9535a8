import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PaymentWaiters } from './payment-waiters.js';

describe('PaymentWaiters', () => {
  test('notify wakes every waiter of that booking only', async () => {
    const w = new PaymentWaiters(10);
    const a = w.tryWait('b-1', 10_000)!;
    const b = w.tryWait('b-1', 10_000)!;
    const other = w.tryWait('b-2', 10_000)!;
    assert.equal(w.size, 3);
    w.notify('b-1');
    assert.deepEqual(await Promise.all([a.ended, b.ended]), ['notified', 'notified']);
    assert.equal(w.size, 1);
    other.cancel();
    assert.equal(await other.ended, 'timeout');
    assert.equal(w.size, 0);
  });

  test('a wait ends by itself after its time; cancel twice frees one slot', async () => {
    const w = new PaymentWaiters(1);
    const a = w.tryWait('b-1', 5)!;
    assert.equal(await a.ended, 'timeout');
    const b = w.tryWait('b-1', 10_000)!;
    b.cancel();
    b.cancel();
    assert.equal(w.size, 0);
    assert.ok(w.tryWait('b-1', 0));
  });

  test('bounded: beyond max nothing is registered until a slot frees; close ends every wait', async () => {
    const w = new PaymentWaiters(2);
    const waits = [w.tryWait('b-1', 10_000)!, w.tryWait('b-2', 10_000)!];
    assert.equal(w.tryWait('b-3', 10_000), undefined);
    assert.equal(w.size, 2);
    w.notify('b-1');
    await waits[0]!.ended;
    const again = w.tryWait('b-3', 10_000);
    assert.ok(again);
    w.close();
    assert.deepEqual(await Promise.all([waits[1]!.ended, again.ended]), ['timeout', 'timeout']);
    assert.equal(w.size, 0);
    assert.throws(() => new PaymentWaiters(-1), /non-negative/);
  });
});
