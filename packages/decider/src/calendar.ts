// Calendar dates (`YYYY-MM-DD`, a night is named by its date) and instants (RFC 3339 strings) as
// plain integer arithmetic: domains may not touch `Date` (the lint rule bans it there, so nothing
// in a decider can read the clock), yet they add days and compare instants. The current time always
// comes in through a command.

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// RFC 3339 date-time (what the event schemas accept): `T`/`t`/space, optional fraction, Z or ±hh:mm.
const INSTANT_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;
const DAY_MS = 86_400_000;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function dayNumber(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The date of a day number (civil_from_days). */
function civil(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function formatDate(days: number): string {
  const { year, month, day } = civil(days);
  if (year < 0 || year > 9999) throw new RangeError(`date out of range (year ${year})`);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

function validDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** True for a real calendar date in `YYYY-MM-DD` form (2025-02-30 is not one). */
export function isCalendarDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  return m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

function toDay(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw new RangeError(`not a calendar date: ${date}`);
  return dayNumber(Number(m[1]), Number(m[2]), Number(m[3]));
}

export function addDays(date: string, days: number): string {
  return formatDate(toDay(date) + days);
}

/** Days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return toDay(to) - toDay(from);
}

/** The nights of a stay: check_in included, check_out (the departure day) excluded. */
export function nightsOf(checkIn: string, checkOut: string): string[] {
  const nights: string[] = [];
  const last = toDay(checkOut);
  for (let d = toDay(checkIn); d < last; d++) nights.push(formatDate(d));
  return nights;
}

/** Milliseconds since the epoch of an RFC 3339 instant, or undefined when it is not one. */
export function instantMs(value: string): number | undefined {
  const m = INSTANT_RE.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  // Like Date.parse: the fraction counts to the millisecond (further digits are cut off).
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return dayNumber(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset;
}

/** True for an RFC 3339 instant (`2025-05-10T09:00:00.000Z`, `2025-05-10T11:00:00+02:00`). */
export function isInstant(value: string): boolean {
  return instantMs(value) !== undefined;
}

/** The instant as `Date.prototype.toISOString` writes it (UTC, milliseconds, `Z`). */
export function formatInstant(epochMs: number): string {
  if (!Number.isFinite(epochMs)) throw new RangeError(`not an instant: ${epochMs}`);
  const ms = Math.trunc(epochMs);
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  return `${formatDate(days)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(rest - second * 1000, 3)}Z`;
}

function requireInstant(value: string): number {
  const ms = instantMs(value);
  if (ms === undefined) throw new RangeError(`not an instant: ${value}`);
  return ms;
}

export function addMilliseconds(instant: string, ms: number): string {
  return formatInstant(requireInstant(instant) + ms);
}

/** `a` is at or after `b` (both RFC 3339 instants); false when either is not an instant. */
export function isAtOrAfter(a: string, b: string): boolean {
  const x = instantMs(a);
  const y = instantMs(b);
  return x !== undefined && y !== undefined && x >= y;
}
