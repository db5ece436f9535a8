// Booking's own bed inventory per albergue per night, built from location's events (booking never
// calls location). Capacity is a schedule (the registered beds, then AlbergueCapacityChanged from
// their effective night on); occupancy is the beds held by reserved or confirmed bookings per night.
import type { AlbergueCapacityChanged, AlbergueRegistered, DeepReadonly, PayloadOf } from '@albergue/events';
import { nightsOf } from '@albergue/decider';
import { assertNever } from '@albergue/decider';

export type Money = DeepReadonly<PayloadOf<typeof AlbergueRegistered>['nightly_price']>;

export interface CapacityChange {
  /** First night with this capacity. */
  readonly effective_from: string;
  readonly beds: number;
}

export interface AlbergueInventory {
  readonly albergue_id: string;
  readonly name: string;
  readonly nightly_price: Money;
  /** Beds as registered; applies to every night before the first capacity change. */
  readonly beds: number;
  /** Sorted by effective_from, ascending, unique; each applies from its night until the next one. */
  readonly capacity_changes: readonly CapacityChange[];
  /**
   * Beds held by reserved or confirmed bookings, per night (`YYYY-MM-DD`); a missing night is 0.
   * A loaded inventory may hold only the nights a command asks about: every function here reads
   * only the nights it is given.
   */
  readonly taken: Readonly<Record<string, number>>;
}

/** Location's events, as booking consumes them. */
export type LocationFact =
  | { readonly type: 'AlbergueRegistered'; readonly data: DeepReadonly<PayloadOf<typeof AlbergueRegistered>> }
  | { readonly type: 'AlbergueCapacityChanged'; readonly data: DeepReadonly<PayloadOf<typeof AlbergueCapacityChanged>> };

/**
 * Folds one of location's events into the inventory. A capacity change for an albergue booking has
 * not heard of yet returns `undefined` (the caller retries later: AlbergueRegistered is on its way).
 *
 * A change applies to every night from `effective_from` on, so it replaces any change recorded for
 * the same or a later night (the event says "from a given night on"). Re-registering keeps the
 * occupancy and the schedule and updates name, price and base beds.
 */
export function evolveInventory(state: AlbergueInventory | undefined, fact: LocationFact): AlbergueInventory | undefined {
  switch (fact.type) {
    case 'AlbergueRegistered':
      return {
        albergue_id: fact.data.albergue_id,
        name: fact.data.name,
        nightly_price: { amount_minor: fact.data.nightly_price.amount_minor, currency: fact.data.nightly_price.currency },
        beds: fact.data.beds,
        capacity_changes: state?.capacity_changes ?? [],
        taken: state?.taken ?? {},
      };
    case 'AlbergueCapacityChanged': {
      if (!state) return undefined;
      const from = fact.data.effective_from;
      return {
        ...state,
        capacity_changes: [
          ...state.capacity_changes.filter((c) => c.effective_from < from),
          { effective_from: from, beds: fact.data.beds },
        ],
      };
    }
    default:
      return assertNever(fact);
  }
}

/** Beds the albergue has on a night, from its capacity schedule. */
export function capacityOn(inventory: AlbergueInventory, night: string): number {
  let beds = inventory.beds;
  for (const change of inventory.capacity_changes) {
    if (change.effective_from <= night) beds = change.beds;
    else break;
  }
  return beds;
}

export interface NightAvailability {
  readonly night: string;
  readonly capacity: number;
  /** Beds held by reserved or confirmed bookings. */
  readonly taken: number;
  /** Beds a new reservation can still get (never negative, even after a capacity cut below occupancy). */
  readonly available: number;
}

export function availabilityOn(inventory: AlbergueInventory, night: string): NightAvailability {
  const capacity = capacityOn(inventory, night);
  const taken = inventory.taken[night] ?? 0;
  return { night, capacity, taken, available: Math.max(0, capacity - taken) };
}

/** Per-night availability for the nights from `from` (included) to `to` (excluded). */
export function availabilityBetween(inventory: AlbergueInventory, from: string, to: string): NightAvailability[] {
  return nightsOf(from, to).map((night) => availabilityOn(inventory, night));
}

/**
 * The nights of a stay that do not have `beds` free; empty when the stay fits. Pure, so the
 * Postgres adapter can run it inside the transaction that holds the inventory's locks.
 */
export function shortages(
  inventory: AlbergueInventory,
  stay: { readonly check_in: string; readonly check_out: string; readonly beds: number },
): NightAvailability[] {
  return availabilityBetween(inventory, stay.check_in, stay.check_out).filter((n) => n.available < stay.beds);
}

/** A change in beds held on one night (positive: held, negative: released). */
export interface OccupancyDelta {
  readonly night: string;
  readonly beds: number;
}

/** The inventory with `deltas` applied to its per-night occupancy. */
export function applyOccupancy(inventory: AlbergueInventory, deltas: readonly OccupancyDelta[]): AlbergueInventory {
  const taken: Record<string, number> = { ...inventory.taken };
  for (const d of deltas) taken[d.night] = (taken[d.night] ?? 0) + d.beds;
  return { ...inventory, taken };
}
