import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentKeys } from './recent-keys.js';

test('RecentKeys remembers exactly the last `capacity` keys', () => {
  const r = new RecentKeys(3);
  for (const k of ['a', 'b', 'c']) r.add(k);
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((k) => r.has(k)),
    [true, true, true, false],
  );
  r.add('d');
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((k) => r.has(k)),
    [false, true, true, true],
  );
  for (let i = 0; i < 1000; i++) r.add(`k${i}`);
  assert.deepEqual(
    ['k996', 'k997', 'k998', 'k999'].map((k) => r.has(k)),
    [false, true, true, true],
  );
});
