import type { EventEnvelope } from '@albergue/events';
import { AlbergueCapacityChanged, AlbergueRegistered, newEnvelope, newEventId } from '@albergue/events';
import type { AlbergueEvent, AlbergueState } from '../domain/albergue.js';
import { bedsOn, evolve } from '../domain/albergue.js';
import type { DomainError, Errors } from '@albergue/decider';
import { assertNever } from '@albergue/decider';
import type { AlbergueRecord, AlbergueTransaction, AlbergueView } from './ports.js';

export type CommandResult<V> =
  | { readonly ok: true; readonly value: V; readonly events: readonly EventEnvelope[]; readonly ignored?: DomainError }
  | { readonly ok: false; readonly errors: Errors };

/** The calendar date of `now` in `timeZone` (`YYYY-MM-DD`). */
export function localDate(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

function toEnvelope(event: AlbergueEvent, meta: { event_id: string; correlation_id: string; causation_id: string }): EventEnvelope {
  switch (event.type) {
    case 'AlbergueRegistered':
      return newEnvelope(AlbergueRegistered, event.data, meta);
    case 'AlbergueCapacityChanged':
      return newEnvelope(AlbergueCapacityChanged, event.data, meta);
    default:
      return assertNever(event);
  }
}

/**
 * Stores the albergue after `events` and appends them to the outbox, in `tx`. Each command starts a
 * flow of its own (correlation_id = its first event's id) unless the caller names the flow
 * (`correlationId`, from the request's x-correlation-id), caused by the command id when given.
 */
export async function saveDecision(tx: AlbergueTransaction, before: AlbergueState, events: readonly AlbergueEvent[], commandId: string | undefined, correlationId?: string): Promise<{ envelopes: EventEnvelope[]; record: AlbergueRecord | undefined }> {
  const after = events.reduce(evolve, before);
  if (after.status !== 'registered' || events.length === 0) return { envelopes: [], record: undefined };
  const envelopes: EventEnvelope[] = [];
  let correlation: string | undefined = correlationId;
  let cause = commandId;
  for (const event of events) {
    const event_id = newEventId();
    correlation ??= event_id;
    const envelope = toEnvelope(event, { event_id, correlation_id: correlation, causation_id: cause ?? event_id });
    envelopes.push(envelope);
    cause = envelope.event_id;
  }
  const record: AlbergueRecord = { state: after, last_event_id: envelopes[envelopes.length - 1]!.event_id };
  await tx.save(record);
  await tx.appendToOutbox(envelopes);
  return { envelopes, record };
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
    capacity_schedule: [{ effective_from: null, beds: a.beds }, ...state.capacity_changes.map((c) => ({ effective_from: c.effective_from, beds: c.beds }))],
  };
  return a.registered_at === undefined ? view : { ...view, registered_at: a.registered_at };
}
