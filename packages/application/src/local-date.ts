// Calendar arithmetic (isCalendarDate, addDays, nightsOf…) is pure and lives in @albergue/decider;
// turning the clock's instant into a local date needs the time-zone database, so it lives here.
/** The calendar date of `now` in `timeZone` (`YYYY-MM-DD`): "today" where the albergues are. */
export function localDate(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}
