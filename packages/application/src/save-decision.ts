// Saving a decision: the domain's events become envelopes (ids, flow, cause), the service stores the
// state they lead to, and the envelopes go to the outbox — all in the caller's transaction.
import type { EventDefinition, EventEnvelope, PayloadOf } from '@albergue/events';
import { newEnvelope, newEventId } from '@albergue/events';

/** The metadata `saveDecision` gives each envelope. */
export interface EnvelopeMeta {
  readonly event_id: string;
  readonly correlation_id: string;
  readonly causation_id: string;
}

/** How new events join their flow. */
export interface Causality {
  /** The flow; undefined starts a new one (correlation_id = the first event's id). */
  readonly correlation_id?: string | undefined;
  /**
   * The event or command that caused the first event (undefined: the first event is its own cause);
   * the events after it chain on each other.
   */
  readonly causation_id?: string | undefined;
}

type Definitions = Readonly<Record<string, EventDefinition>>;

/** The domain events a set of definitions publishes: `{ type: <name>, data: <payload> }`. */
export type DomainEventOf<M extends Definitions> = {
  [K in keyof M & string]: { readonly type: K; readonly data: PayloadOf<M[K]> | Readonly<PayloadOf<M[K]>> };
}[keyof M & string];

/**
 * The one `toEnvelope` of a service: maps each domain event `{ type, data }` to its definition's
 * envelope. Keyed by event name, so a domain event without a definition does not compile.
 */
export function envelopeMapping<const M extends Definitions>(
  definitions: M,
): (event: DomainEventOf<M>, meta: EnvelopeMeta) => EventEnvelope {
  for (const [name, def] of Object.entries(definitions)) {
    if (def.name !== name) throw new Error(`envelopeMapping: key ${name} names the definition of ${def.name}`);
  }
  return (event, meta) => {
    const def = definitions[event.type];
    if (!def) throw new Error(`no event definition for domain event ${event.type}`);
    return newEnvelope(def, event.data as PayloadOf<typeof def>, meta);
  };
}

/** Where a transaction's envelopes go (every service's transaction port has it). */
export interface OutboxWriter {
  /** Inserts the envelopes into outbox_events in this transaction, in order. */
  appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void>;
}

/** A service's events: how they change its state and which of them are published, in what envelope. */
export interface DecisionModel<S, E> {
  readonly evolve: (state: S, event: E) => S;
  /** The envelope an event is published in; undefined keeps the event in the stored state only. */
  readonly toEnvelope: (event: E, meta: EnvelopeMeta) => EventEnvelope | undefined;
}

/** What the service stores after a decision. */
export interface DecisionToStore<S, E> {
  readonly before: S;
  readonly after: S;
  readonly events: readonly E[];
  /** The published events, in order (each caused by the one before it). */
  readonly envelopes: readonly EventEnvelope[];
  /** The flow of the envelopes (the caller's, or the first envelope's id for a new flow). */
  readonly correlation_id: string | undefined;
  /** The latest envelope's id, or the decision's cause when it published nothing. */
  readonly last_event_id: string | undefined;
}

export interface SavedDecision<S, R> {
  /** The envelopes appended to the outbox (none when nothing was stored). */
  readonly envelopes: EventEnvelope[];
  readonly after: S;
  /** What `store` returned; undefined when there was nothing to store. */
  readonly stored: R | undefined;
}

/**
 * Evolves `before` through `events`, names their envelopes (a new flow unless `causality` names one;
 * caused by its cause, then chained), lets `store` write the new state in `tx` (it returns undefined
 * when the state is not one to store) and appends the envelopes to the outbox in `tx`. No events:
 * nothing is written.
 */
export async function saveDecision<S, E, R>(
  tx: OutboxWriter,
  model: DecisionModel<S, E>,
  before: S,
  events: readonly E[],
  causality: Causality,
  store: (decided: DecisionToStore<S, E>) => Promise<R | undefined>,
): Promise<SavedDecision<S, R>> {
  const after = events.reduce(model.evolve, before);
  if (events.length === 0) return { envelopes: [], after, stored: undefined };
  const envelopes: EventEnvelope[] = [];
  let correlation = causality.correlation_id;
  let cause = causality.causation_id;
  for (const event of events) {
    const event_id = newEventId();
    const envelope = model.toEnvelope(event, { event_id, correlation_id: correlation ?? event_id, causation_id: cause ?? event_id });
    if (!envelope) continue;
    envelopes.push(envelope);
    correlation ??= envelope.correlation_id;
    cause = envelope.event_id;
  }
  const stored = await store({ before, after, events, envelopes, correlation_id: correlation, last_event_id: cause });
  if (stored === undefined) return { envelopes: [], after, stored };
  if (envelopes.length > 0) await tx.appendToOutbox(envelopes);
  return { envelopes, after, stored };
}
