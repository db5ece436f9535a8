// Schema helpers of the services' HTTP APIs: the payload primitives of @albergue/events (so a value
// valid in a request is valid in the event it becomes).
export { CURRENCY_PATTERN, DateOnly, Id, LOCALE_PATTERN, Locale, Money, Timestamp } from '@albergue/events';
