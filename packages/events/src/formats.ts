// Fast paths for the `date` and `date-time` formats, which ajv-formats checks with regular
// expressions and allocations on every call (about a sixth of parsing an envelope). Each accepts
// only the canonical spelling the system writes (`2026-12-02`, `2026-12-02T10:15:00.000Z`) when it is
// valid by the full RFC 3339 rules, and hands anything else to ajv-formats' own full check: the
// verdict is always ajv-formats', only reached sooner.
import type { FormatDefinition } from 'ajv';

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const ZERO = 0x30;

/** Digits at `from`…`from + count - 1` as a number, or -1 if one of them is not a digit. */
function digits(s: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `YYYY-MM-DD` at the start of `s`, with a real month and day (leap years included). */
function canonicalDate(s: string): boolean {
  if (s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d) return false;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS[month]!);
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction]Z`: upper-case T and Z, no leap second (those take the full check). */
function canonicalDateTime(s: string): boolean {
  const n = s.length;
  if (n < 20 || s.charCodeAt(10) !== 0x54 || s.charCodeAt(n - 1) !== 0x5a || !canonicalDate(s)) return false;
  if (s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return false;
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  if (n === 20) return true;
  // A fraction: a dot and at least one digit before the Z.
  return s.charCodeAt(19) === 0x2e && n > 21 && digits(s, 20, n - 21) >= 0;
}

type Validate = (s: string) => boolean;

function withFastPath(full: FormatDefinition<string>, fast: (s: string) => boolean, length?: number): FormatDefinition<string> {
  const check = (full as { validate: Validate | RegExp }).validate;
  const slow: Validate = typeof check === 'function' ? check : (s) => check.test(s);
  return {
    ...full,
    validate: (s: string) => ((length === undefined || s.length === length) && fast(s)) || slow(s),
  };
}

/** The `date` and `date-time` formats of ajv-formats' full set, with the canonical spelling checked first. */
export function fastDateFormats(full: {
  readonly date: FormatDefinition<string>;
  readonly 'date-time': FormatDefinition<string>;
}): Record<'date' | 'date-time', FormatDefinition<string>> {
  return { date: withFastPath(full.date, canonicalDate, 10), 'date-time': withFastPath(full['date-time'], canonicalDateTime) };
}
