// What location's handlers share: its envelope mapping and how a decision is stored.
import type { Causality, SavedDecision } from '@albergue/application';
import { envelopeMapping, saveDecision } from '@albergue/application';
import { AlbergueCapacityChanged, AlbergueRegistered } from '@albergue/events';
import type { AlbergueEvent, AlbergueState } from '../domain/albergue.js';
import { bedsOn, evolve } from '../domain/albergue.js';
import type { AlbergueRecord, AlbergueTransaction, AlbergueView } from './ports.js';

const albergueModel = { evolve, toEnvelope: envelopeMapping({ AlbergueRegistered, AlbergueCapacityChanged }) };

/**
 * Stores the albergue after `events` and appends them to the outbox, in `tx`. Each command starts a
 * flow of its own (correlation_id = its first event's id) unless the caller names the flow
 * (`correlation_id`, from the request's x-correlation-id), caused by the command id when given.
 */
export function saveAlbergueDecision(
  tx: AlbergueTransaction,
  before: AlbergueState,
  events: readonly AlbergueEvent[],
  causality: Causality,
): Promise<SavedDecision<AlbergueState, AlbergueRecord>> {
  return saveDecision(tx, albergueModel, before, events, causality, async ({ after, last_event_id }) => {
    if (after.status !== 'registered' || last_event_id === undefined) return undefined;
    const record: AlbergueRecord = { state: after, last_event_id };
    await tx.save(record);
    return record;
  });
}

export function albergueView(state: AlbergueRecord['state'], today: string): AlbergueView {
  const a = state.albergue;
  const view: AlbergueView = {
    albergue_id: a.albergue_id,
    name: a.name,
    town: a.town,
    route: a.route,
    location: { lat: a.location.lat, lon: a.location.lon },
    beds: bedsOn(state, today),
    nightly_price: { amount_minor: a.nightly_price.amount_minor, currency: a.nightly_price.currency },
    capacity_schedule: [
      { effective_from: null, beds: a.beds },
      ...state.capacity_changes.map((c) => ({ effective_from: c.effective_from, beds: c.beds })),
    ],
  };
  return a.registered_at === undefined ? view : { ...view, registered_at: a.registered_at };
}
