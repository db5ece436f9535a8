// The ports every service's application layer takes, and their system adapters (the composition
// root wires these; tests pass their own).
import { newEventId } from '@albergue/events';

/** The only source of time for an application layer (domains get `now` inside their commands). */
export interface Clock {
  now(): Date;
}

/** New ids (unique, at most 128 characters of [A-Za-z0-9_-]; a UUIDv7 in production). */
export type IdGenerator = () => string;

/** The machine's clock. */
export const systemClock: Clock = { now: () => new Date() };

/** Time-ordered UUIDv7 ids, the same kind as event ids. */
export const uuidV7Ids: IdGenerator = newEventId;
