import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addDays,
  addMilliseconds,
  daysBetween,
  formatInstant,
  instantMs,
  isAtOrAfter,
  isCalendarDate,
  isInstant,
  nightsOf,
} from './calendar.js';

// The arithmetic replaces Date inside domains: it must agree with Date wherever Date is right.
test('dates agree with Date over four centuries of days, both directions', () => {
  const start = Date.UTC(1900, 0, 1) / 86_400_000;
  for (let d = start; d < start + 146_097 * 1.1; d += 7) {
    const iso = new Date(d * 86_400_000).toISOString().slice(0, 10);
    assert.equal(addDays('1900-01-01', d - start), iso);
    assert.equal(daysBetween('1900-01-01', iso), d - start);
  }
});

test('isCalendarDate: real dates only, leap years included', () => {
  for (const ok of ['2024-02-29', '2000-02-29', '2025-12-31', '0001-01-01']) assert.ok(isCalendarDate(ok), ok);
  for (const bad of [
    '2025-02-29',
    '1900-02-29',
    '2025-02-30',
    '2025-13-01',
    '2025-00-10',
    '2025-1-01',
    '2025-01-01T00:00:00Z',
    '',
    ' 2025-01-01',
  ])
    assert.ok(!isCalendarDate(bad), bad);
});

test('nightsOf: check-in included, check-out excluded; across a year end', () => {
  assert.deepEqual(nightsOf('2025-12-30', '2026-01-02'), ['2025-12-30', '2025-12-31', '2026-01-01']);
  assert.deepEqual(nightsOf('2025-05-01', '2025-05-01'), []);
  assert.throws(() => nightsOf('2025-02-30', '2025-03-02'), /not a calendar date/);
});

test('instants: parsed like Date.parse for RFC 3339, written like toISOString', () => {
  const samples = [
    '2025-05-10T09:15:00.000Z',
    '2025-05-10T09:15:00Z',
    '2025-05-10t09:15:00z',
    '2025-05-10 09:15:00Z',
    '2025-05-10T11:15:00+02:00',
    '2025-05-10T04:45:00.5-04:30',
    '2025-01-01T00:00:00.9999Z',
    '2024-02-29T23:59:59.999Z',
    '1970-01-01T00:00:00.000Z',
    '1969-12-31T23:59:59.999Z',
  ];
  for (const s of samples) {
    assert.equal(instantMs(s), Date.parse(s), s);
    assert.equal(formatInstant(Date.parse(s)), new Date(Date.parse(s)).toISOString(), s);
  }
  for (let ms = -2_000_000_000_000; ms < 4_000_000_000_000; ms += 987_654_321_123)
    assert.equal(formatInstant(ms), new Date(ms).toISOString());
});

test('instants: anything else is not one (hostile spellings)', () => {
  for (const bad of [
    'not-a-time',
    '2025-05-10',
    '2025-02-30T00:00:00Z',
    '2025-05-10T24:00:00Z',
    '2025-05-10T09:60:00Z',
    '2025-05-10T09:00:00',
    '2025-05-10T09:00:00+02',
    '1 May 2025',
    '',
    '2025-05-10T09:00:00Z\n',
  ]) {
    assert.ok(!isInstant(bad), bad);
  }
  assert.equal(isAtOrAfter('not-a-time', '2025-05-10T09:00:00Z'), false);
  assert.equal(isAtOrAfter('2025-05-10T09:00:00Z', 'nope'), false);
  assert.throws(() => addMilliseconds('nope', 1), RangeError);
});

test('addMilliseconds and isAtOrAfter across offsets', () => {
  assert.equal(addMilliseconds('2025-05-10T09:00:00.000Z', 15 * 60_000), '2025-05-10T09:15:00.000Z');
  assert.equal(addMilliseconds('2025-12-31T23:59:59.999Z', 1), '2026-01-01T00:00:00.000Z');
  assert.ok(isAtOrAfter('2025-05-10T11:00:00+02:00', '2025-05-10T09:00:00.000Z'));
  assert.ok(!isAtOrAfter('2025-05-10T10:59:59.999+02:00', '2025-05-10T09:00:00.000Z'));
});
