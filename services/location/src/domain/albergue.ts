// The albergue decider: location registers albergues and changes their capacity.
// `decide(command, state) → events`, `evolve(state, event) → state`; pure.
import type { AlbergueCapacityChanged, AlbergueRegistered, DeepReadonly, PayloadOf } from '@albergue/events';
import { CURRENCY_PATTERN } from '@albergue/events';
import { isCalendarDate } from '@albergue/decider';
import type { Decision, DomainError } from '@albergue/decider';
import { accept, assertNever, ignore, reject } from '@albergue/decider';

const CURRENCY = new RegExp(CURRENCY_PATTERN);

export const MAX_BEDS = 10_000;
/** Highest nightly price accepted, in cents (a guard against a price typed in euros × 100 twice). */
export const MAX_NIGHTLY_PRICE_MINOR = 100_000;

export type Registration = DeepReadonly<PayloadOf<typeof AlbergueRegistered>>;
export type AlbergueEvent =
  | { readonly type: 'AlbergueRegistered'; readonly data: Registration }
  | { readonly type: 'AlbergueCapacityChanged'; readonly data: DeepReadonly<PayloadOf<typeof AlbergueCapacityChanged>> };

export interface CapacityChange {
  readonly effective_from: string;
  readonly beds: number;
}

export type AlbergueState =
  | { readonly status: 'none' }
  | {
      readonly status: 'registered';
      readonly albergue: Registration;
      /** Sorted by effective_from; each applies from its night until the next one. */
      readonly capacity_changes: readonly CapacityChange[];
    };

export const NO_ALBERGUE: AlbergueState = { status: 'none' };

export interface RegisterAlbergue {
  readonly type: 'RegisterAlbergue';
  readonly data: {
    readonly albergue_id: string;
    readonly name: string;
    readonly town: string;
    readonly route: string;
    readonly location: { readonly lat: number; readonly lon: number };
    readonly beds: number;
    readonly nightly_price: { readonly amount_minor: number; readonly currency: string };
    readonly now: string;
  };
}

export interface ChangeCapacity {
  readonly type: 'ChangeCapacity';
  readonly data: {
    readonly albergue_id: string;
    readonly beds: number;
    readonly effective_from: string;
    /** Today's date where the albergue is: a change may not start in the past. */
    readonly today: string;
  };
}

export type AlbergueCommand = RegisterAlbergue | ChangeCapacity;

export type AlbergueErrorCode =
  | 'albergue_exists'
  | 'albergue_not_found'
  | 'invalid_id'
  | 'invalid_name'
  | 'invalid_town'
  | 'invalid_route'
  | 'invalid_coordinates'
  | 'invalid_beds'
  | 'invalid_price'
  | 'invalid_date'
  | 'effective_from_in_past';

export type AlbergueDecision = Decision<AlbergueEvent, AlbergueErrorCode>;

export function decide(command: AlbergueCommand, state: AlbergueState): AlbergueDecision {
  switch (command.type) {
    case 'RegisterAlbergue':
      return register(command.data, state);
    case 'ChangeCapacity':
      return changeCapacity(command.data, state);
    default:
      return assertNever(command);
  }
}

export function evolve(state: AlbergueState, event: AlbergueEvent): AlbergueState {
  switch (event.type) {
    case 'AlbergueRegistered':
      return { status: 'registered', albergue: event.data, capacity_changes: state.status === 'registered' ? state.capacity_changes : [] };
    case 'AlbergueCapacityChanged': {
      if (state.status !== 'registered') return state;
      const from = event.data.effective_from;
      // A change applies from its night on: it replaces changes recorded for the same or later nights.
      return {
        ...state,
        capacity_changes: [
          ...state.capacity_changes.filter((c) => c.effective_from < from),
          { effective_from: from, beds: event.data.beds },
        ],
      };
    }
    default:
      return assertNever(event);
  }
}

export function replay(events: readonly AlbergueEvent[]): AlbergueState {
  return events.reduce(evolve, NO_ALBERGUE);
}

/** Beds on a night, from the registered beds and the capacity schedule. */
export function bedsOn(state: Extract<AlbergueState, { status: 'registered' }>, night: string): number {
  let beds = state.albergue.beds;
  for (const c of state.capacity_changes) {
    if (c.effective_from <= night) beds = c.beds;
    else break;
  }
  return beds;
}

function length(value: string, min: number, max: number): boolean {
  const n = value.trim().length;
  return n >= min && n <= max;
}

/** Every problem with a registration, all at once. */
export function validateRegistration(c: RegisterAlbergue['data']): DomainError<AlbergueErrorCode>[] {
  const errors: DomainError<AlbergueErrorCode>[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(c.albergue_id))
    errors.push({ code: 'invalid_id', reason: 'albergue_id must be 1 to 128 letters, digits, "-" or "_"' });
  if (!length(c.name, 1, 200)) errors.push({ code: 'invalid_name', reason: 'name must have 1 to 200 characters' });
  if (!length(c.town, 1, 200)) errors.push({ code: 'invalid_town', reason: 'town must have 1 to 200 characters' });
  if (!length(c.route, 1, 100))
    errors.push({ code: 'invalid_route', reason: 'route must have 1 to 100 characters (e.g. "Camino Francés")' });
  const { lat, lon } = c.location;
  if (!Number.isFinite(lat) || lat < -90 || lat > 90)
    errors.push({ code: 'invalid_coordinates', reason: `latitude must be between -90 and 90, got ${lat}` });
  if (!Number.isFinite(lon) || lon < -180 || lon > 180)
    errors.push({ code: 'invalid_coordinates', reason: `longitude must be between -180 and 180, got ${lon}` });
  if (!Number.isInteger(c.beds) || c.beds < 1 || c.beds > MAX_BEDS)
    errors.push({ code: 'invalid_beds', reason: `beds must be a whole number from 1 to ${MAX_BEDS}, got ${c.beds}` });
  const price = c.nightly_price;
  if (!Number.isInteger(price.amount_minor) || price.amount_minor < 1 || price.amount_minor > MAX_NIGHTLY_PRICE_MINOR) {
    errors.push({
      code: 'invalid_price',
      reason: `nightly price must be a whole number of cents from 1 to ${MAX_NIGHTLY_PRICE_MINOR}, got ${price.amount_minor}`,
    });
  }
  if (!CURRENCY.test(price.currency))
    errors.push({ code: 'invalid_price', reason: `currency must be an ISO 4217 code such as EUR, got "${price.currency}"` });
  return errors;
}

function register(c: RegisterAlbergue['data'], state: AlbergueState): AlbergueDecision {
  if (state.status !== 'none') return reject({ code: 'albergue_exists', reason: `albergue ${c.albergue_id} is already registered` });
  const [first, ...more] = validateRegistration(c);
  if (first) return reject(first, ...more);
  return accept<AlbergueEvent>({
    type: 'AlbergueRegistered',
    data: {
      albergue_id: c.albergue_id,
      name: c.name.trim(),
      town: c.town.trim(),
      route: c.route.trim(),
      location: { lat: c.location.lat, lon: c.location.lon },
      beds: c.beds,
      nightly_price: { amount_minor: c.nightly_price.amount_minor, currency: c.nightly_price.currency },
      registered_at: c.now,
    },
  });
}

/**
 * A new number of beds from a night on (0 closes the albergue from then). It replaces any change
 * already scheduled for that night or later. Asking for what is already the case (same beds on
 * that night, nothing scheduled after it) is a no-op, so a retried request changes nothing.
 * Bookings already made are kept by booking even when the new capacity is below them.
 */
function changeCapacity(c: ChangeCapacity['data'], state: AlbergueState): AlbergueDecision {
  if (state.status !== 'registered') return reject({ code: 'albergue_not_found', reason: `albergue ${c.albergue_id} does not exist` });
  const errors: DomainError<AlbergueErrorCode>[] = [];
  if (!Number.isInteger(c.beds) || c.beds < 0 || c.beds > MAX_BEDS)
    errors.push({ code: 'invalid_beds', reason: `beds must be a whole number from 0 to ${MAX_BEDS}, got ${c.beds}` });
  if (!isCalendarDate(c.effective_from))
    errors.push({ code: 'invalid_date', reason: `effective_from "${c.effective_from}" is not a date (YYYY-MM-DD)` });
  else if (c.effective_from < c.today)
    errors.push({ code: 'effective_from_in_past', reason: `effective_from (${c.effective_from}) is in the past (today is ${c.today})` });
  const [first, ...more] = errors;
  if (first) return reject(first, ...more);
  const previous = bedsOn(state, c.effective_from);
  const laterChanges = state.capacity_changes.some((x) => x.effective_from > c.effective_from);
  if (previous === c.beds && !laterChanges)
    return ignore('capacity_unchanged', `albergue ${c.albergue_id} already has ${c.beds} beds from ${c.effective_from}`);
  return accept<AlbergueEvent>({
    type: 'AlbergueCapacityChanged',
    data: { albergue_id: c.albergue_id, beds: c.beds, previous_beds: previous, effective_from: c.effective_from },
  });
}
