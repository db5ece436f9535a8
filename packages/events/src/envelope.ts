import type { Static } from '@sinclair/typebox';
import { v7 as uuidv7 } from 'uuid';
import type { EventDefinition } from './define.js';
import type { DeepReadonly } from './readonly.js';

/**
 * The one envelope every event travels in (ARCHITECTURE §2): snake_case JSON, deeply immutable.
 * `event_version` is the payload version; the topic's major version equals it.
 */
export interface EventEnvelope<T extends string = string, P = unknown, V extends number = number> {
  readonly event_id: string;
  readonly event_type: T;
  readonly event_version: V;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly occurred_at: string;
  readonly correlation_id: string;
  readonly causation_id: string;
  readonly payload: DeepReadonly<P>;
}

/** The typed envelope of one definition. */
export type EnvelopeOf<D> = D extends EventDefinition<infer N, infer V, infer S> ? EventEnvelope<N, Static<S>, V> : never;

/** Correlation metadata for a new event; `withCorrelation(parent)` builds it for a child event. */
export interface EventMeta {
  readonly event_id?: string;
  readonly aggregate_id?: string;
  readonly occurred_at?: string | Date;
  /** The flow this event belongs to; a new flow starts with correlation_id = its first event_id. */
  readonly correlation_id?: string;
  /** What caused this event: the parent event_id, or the command id for a flow's first event. */
  readonly causation_id?: string;
}

/** A child event inherits the parent's correlation_id and is caused by the parent event. */
export function withCorrelation(parent: Pick<EventEnvelope, 'event_id' | 'correlation_id'>, meta: EventMeta = {}): EventMeta {
  return { ...meta, correlation_id: parent.correlation_id, causation_id: parent.event_id };
}

/** A time-ordered UUIDv7. */
export function newEventId(): string {
  return uuidv7();
}

export const UUID_V7_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
