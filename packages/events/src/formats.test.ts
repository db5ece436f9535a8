// The fast paths never change a verdict: every string gets ajv-formats' own answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { fastDateFormats } from './formats.js';
import { createAjv } from './validation.js';

type Check = { validate: (s: string) => boolean };
const full = fullFormats as unknown as Record<'date' | 'date-time', Check>;
const fast = fastDateFormats(fullFormats as never) as unknown as Record<'date' | 'date-time', Check>;

/** Valid and nearly valid spellings: every position replaced by a few characters that matter. */
function corpus(seeds: readonly string[]): string[] {
  const out = new Set<string>(seeds);
  const swaps = ['0', '1', '2', '3', '5', '9', '-', ':', '.', 'T', 't', 'Z', 'z', ' ', '+', 'x', '٣'];
  for (const s of seeds) {
    for (let i = 0; i < s.length; i++) {
      for (const c of swaps) out.add(s.slice(0, i) + c + s.slice(i + 1));
      out.add(s.slice(0, i) + s.slice(i + 1));
    }
    out.add(`${s}0`);
    out.add(` ${s}`);
  }
  return [...out];
}

const DATES = [
  '2026-12-02',
  '2024-02-29',
  '2023-02-29',
  '1900-02-29',
  '2000-02-29',
  '2026-04-31',
  '2026-13-01',
  '0000-01-01',
  '9999-12-31',
];
const DATE_TIMES = [
  '2026-12-02T10:15:00.000Z',
  '2026-12-02T10:15:00Z',
  '2026-12-02T23:59:59.999999Z',
  '2026-12-02T24:00:00Z',
  '2026-12-31T23:59:60Z',
  '2026-12-02T10:15:00+01:00',
  '2026-12-02t10:15:00z',
  '2026-12-02 10:15:00Z',
  '2024-02-29T00:00:00.1Z',
  '2026-12-02T10:15:00.Z',
  '2026-12-02T10:15:00',
];

test('date: the same verdict as ajv-formats on valid, invalid and nearly valid spellings', () => {
  const cases = corpus(DATES);
  assert.ok(cases.length > 1000);
  for (const s of cases) assert.equal(fast.date.validate(s), full.date.validate(s), JSON.stringify(s));
});

test('date-time: the same verdict as ajv-formats, leap seconds, offsets and lower case included', () => {
  const cases = corpus(DATE_TIMES);
  assert.ok(cases.length > 4000);
  for (const s of cases) assert.equal(fast['date-time'].validate(s), full['date-time'].validate(s), JSON.stringify(s));
});

test('the validators use them: a schema with both formats accepts and refuses as before', () => {
  const validate = createAjv().compile({
    type: 'object',
    properties: { d: { type: 'string', format: 'date' }, t: { type: 'string', format: 'date-time' } },
  });
  assert.equal(validate({ d: '2024-02-29', t: '2026-12-02T10:15:00.000Z' }), true);
  assert.equal(validate({ d: '2023-02-29' }), false);
  assert.equal(validate({ t: '2026-12-02T24:00:00Z' }), false);
  assert.equal(validate({ t: '2026-12-02T10:15:00' }), false, 'a time zone is required');
});
