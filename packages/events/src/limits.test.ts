import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { BookingReserved, newEnvelope, parseEnvelope } from './index.js';
import { SAMPLE_PAYLOADS } from './node.js';
import type { ParseResult } from './index.js';

const reserved = () => newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved });

/** `{"a":{"a":…{}…}}` nested `depth` levels, built without recursion. */
function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}
const nestedText = (depth: number): string => '{"a":'.repeat(depth) + '{}' + '}'.repeat(depth);

/** parseEnvelope must answer with a result for every input: this wraps it so a throw fails the test with the input. */
function parseNeverThrows(input: unknown, options?: Parameters<typeof parseEnvelope>[1]): ParseResult {
  let r: ParseResult;
  try {
    r = parseEnvelope(input, options);
  } catch (err) {
    assert.fail(`parseEnvelope threw ${(err as Error).name}: ${(err as Error).message}`);
  }
  assert.equal(typeof r.ok, 'boolean');
  if (!r.ok) assert.ok(r.reason.length > 0 && r.problems.length > 0, 'a refusal names its reason');
  return r;
}

test('a valid envelope with one extra field nested 10,000 levels deep (~60 KB) is a clear error, as text, bytes and object', () => {
  const e = reserved();
  const text = JSON.stringify(e).replace('"payload":{', `"payload":{"x":${nestedText(10_000)},`);
  assert.ok(text.length > 60_000 && text.length < 256 * 1024, 'under the size limit');
  for (const input of [text, Buffer.from(text)]) {
    const r = parseNeverThrows(input);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /nested deeper than the limit of 64 levels/);
  }
  const asObject = { ...e, payload: { ...e.payload, x: nested(10_000) } };
  const r = parseNeverThrows(asObject);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.reason, /^\/payload\/x(\/a)+: nested deeper than the limit of 64 levels/);
});

test('depth limit: exactly at the limit is accepted, one more is refused; the limit is configurable', () => {
  const e = reserved();
  // Envelope (1) → payload (2) → x: 62 more levels = 64.
  const at = JSON.stringify({ ...e, payload: { ...e.payload, x: nested(61) } });
  // Payloads are read tolerantly (additive fields keep the version): at the limit it is accepted.
  const r1 = parseNeverThrows(at);
  assert.ok(r1.ok, r1.ok ? '' : r1.reason);
  const over = JSON.stringify({ ...e, payload: { ...e.payload, x: nested(62) } });
  const r2 = parseNeverThrows(over);
  if (!r2.ok) assert.match(r2.reason, /nested deeper/);
  assert.equal(r2.ok, false);
  const r3 = parseNeverThrows(JSON.stringify(e), { maxDepth: 2 });
  assert.equal(r3.ok, false, 'the guest object is level 3');
  assert.ok(parseNeverThrows(JSON.stringify(e), { maxDepth: 3 }).ok);
});

test('brackets inside strings do not count as nesting', () => {
  const e = reserved();
  const r = parseNeverThrows(
    JSON.stringify({ ...e, payload: { ...e.payload, guest: { ...e.payload.guest, name: '[[[[{{{{'.repeat(20) } } }),
  );
  assert.ok(r.ok, r.ok ? '' : r.reason);
});

test('NUL and lone surrogates anywhere in an event are refused with their path (text, keys, objects, newEnvelope)', () => {
  const e = reserved();
  const cases: [unknown, RegExp][] = [
    [
      JSON.stringify({ ...e, payload: { ...e.payload, guest: { ...e.payload.guest, name: 'Ana\u0000' } } }),
      /^\/payload\/guest\/name: text contains the NUL character/,
    ],
    [
      JSON.stringify({ ...e, payload: { ...e.payload, guest: { ...e.payload.guest, name: 'Ana\ud800' } } }),
      /^\/payload\/guest\/name: text contains a lone UTF-16 surrogate/,
    ],
    [JSON.stringify({ ...e, payload: { ...e.payload, guest: { ...e.payload.guest, name: '\udc00Ana' } } }), /lone UTF-16 surrogate/],
    [JSON.stringify({ ...e, aggregate_id: 'bk\u0000' }), /^\/aggregate_id: .*NUL/],
    [JSON.stringify({ ...e, payload: { ...e.payload, 'k\u0000': 1 } }), /^\/payload: field name .*NUL/],
    [JSON.stringify({ ...e, payload: { ...e.payload, '\ud83d': 1 } }), /^\/payload: field name .*surrogate/],
    [{ ...e, payload: { ...e.payload, booking_id: 'bk\u0000' } }, /^\/payload\/booking_id: .*NUL/],
  ];
  for (const [input, re] of cases) {
    const r = parseNeverThrows(input);
    assert.equal(r.ok, false, `accepted ${String(input).slice(0, 60)}`);
    if (!r.ok) assert.match(r.reason, re);
  }
  // A well-formed surrogate pair (an emoji) is fine.
  assert.ok(parseNeverThrows(JSON.stringify({ ...e, payload: { ...e.payload, guest: { ...e.payload.guest, name: 'Ana 🥾' } } })).ok);
  // Refused at publish too.
  assert.throws(
    () => newEnvelope(BookingReserved, { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: 'bk\u0000' }),
    /aggregate_id: text contains the NUL/,
  );
  assert.throws(
    () =>
      newEnvelope(BookingReserved, {
        ...SAMPLE_PAYLOADS.BookingReserved,
        guest: { ...SAMPLE_PAYLOADS.BookingReserved.guest, name: 'x\udbff' },
      }),
    /surrogate/,
  );
});

test('object input: cycles, huge objects, non-JSON values, hostile getters and proxies are results, not throws', () => {
  const e = reserved();
  const cyclic: Record<string, unknown> = { ...e, payload: { ...e.payload } };
  (cyclic.payload as Record<string, unknown>).self = cyclic;
  const wide = { ...e, payload: { ...e.payload, x: Array.from({ length: 100_000 }, () => 'abcdefgh') } };
  const getter = { ...e };
  Object.defineProperty(getter, 'payload', {
    enumerable: true,
    get: () => {
      throw new Error('boom');
    },
  });
  const proxy = new Proxy(
    {},
    {
      ownKeys: () => {
        throw new Error('trap');
      },
    },
  );
  const cases: [unknown, RegExp][] = [
    [cyclic, /nested deeper/],
    [wide, /larger than the 262144-byte limit/],
    [{ ...e, payload: { ...e.payload, at: new Date() } }, /not a plain JSON object/],
    [{ ...e, payload: { ...e.payload, f: () => 1 } }, /a function is not a JSON value/],
    [{ ...e, payload: { ...e.payload, n: 10n } }, /a bigint is not a JSON value/],
    [{ ...e, payload: { ...e.payload, n: Number.NaN } }, /NaN is not a JSON number/],
    [getter, /unreadable input: boom/],
    [proxy, /unreadable input: trap/],
  ];
  for (const [input, re] of cases) {
    const r = parseNeverThrows(input);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, re);
  }
});

test('property: parseEnvelope returns a result for arbitrary bytes, strings and JSON values (deep ones included)', () => {
  const valid = JSON.stringify(reserved());
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => void parseNeverThrows(bytes)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 2048 }), (s) => void parseNeverThrows(s)),
    { numRuns: 300 },
  );
  // Mutations of a valid envelope: a slice, a spliced-in fragment.
  fc.assert(
    fc.property(fc.nat(valid.length), fc.nat(valid.length), fc.string({ unit: 'binary', maxLength: 64 }), (a, b, s) => {
      void parseNeverThrows(valid.slice(0, Math.min(a, b)) + s + valid.slice(Math.max(a, b)));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), (v) => {
      void parseNeverThrows(v);
      void parseNeverThrows(JSON.stringify(v) ?? 'null');
    }),
    { numRuns: 300 },
  );
  // A valid envelope carrying an arbitrary (possibly very deep) value inside its payload.
  const e = reserved();
  fc.assert(
    fc.property(
      fc.anything({
        maxDepth: 6,
        withBigInt: true,
        withDate: true,
        withMap: true,
        withNullPrototype: true,
        withTypedArray: true,
        withSparseArray: true,
      }),
      fc.integer({ min: 0, max: 5_000 }),
      (v, depth) => {
        let deep: unknown = v;
        for (let i = 0; i < depth; i++) deep = [deep];
        const obj = { ...e, payload: { ...e.payload, extra: deep } };
        const r = parseNeverThrows(obj);
        // Envelope, payload, then `depth` arrays: past 64 levels it is refused whatever `v` is.
        if (depth >= 63) assert.ok(!r.ok && /nested deeper/.test(r.reason), 'too deep is refused');
        if (r.ok) assert.ok(Object.isFrozen(r.event.payload), 'an accepted event is frozen');
        const text = (() => {
          try {
            return JSON.stringify(obj);
          } catch {
            return undefined;
          }
        })();
        if (text !== undefined) {
          const t = parseNeverThrows(text);
          if (depth >= 63) assert.equal(t.ok, false);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('object input: the size bound is the JSON size (never refuses an object whose JSON text fits)', () => {
  const e = reserved();
  const fits = { ...e, payload: { ...e.payload, x: Array.from({ length: 100_000 }, () => 1) } };
  const text = JSON.stringify(fits);
  assert.ok(Buffer.byteLength(text) < 256 * 1024);
  const r = parseNeverThrows(fits);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(parseNeverThrows(text).ok, true);
  const tooBig = { ...e, payload: { ...e.payload, x: Array.from({ length: 140_000 }, () => 1) } };
  assert.ok(Buffer.byteLength(JSON.stringify(tooBig)) > 256 * 1024);
  const r2 = parseNeverThrows(tooBig);
  assert.equal(r2.ok, false);
  if (!r2.ok) assert.match(r2.reason, /larger than the 262144-byte limit/);
});
