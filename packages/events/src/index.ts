// @albergue/events, the pure entry: definitions, types, envelopes, validation, topics, CloudEvents.
// No file system and no sample data here (domains import this entry); schema files, the
// compatibility check and the sample payloads are in `@albergue/events/node` (./node.ts).
import type { EventDefinition } from './define.js';
import { ALL_EVENTS } from './definitions/index.js';
import type { EventEnvelope, EventMeta } from './envelope.js';
import type { ParseOptions, ParseResult } from './registry.js';
import { EventRegistry } from './registry.js';
import { UPCASTERS } from './upcasters.js';

export * from './define.js';
export * from './definitions/index.js';
export * from './envelope.js';
export * from './primitives.js';
export * from './readonly.js';
export * from './limits.js';
export * from './registry.js';
export * from './schema.js';
export * from './topics.js';
export * from './cloudevents.js';
export type { Problem } from './validation.js';
export { formatProblems } from './validation.js';

/** The registry of every Albergue event, with its upcasters. */
export const events = new EventRegistry(ALL_EVENTS, UPCASTERS);

/** A new event of `def`, validated and deeply frozen; pass `withCorrelation(parent)` for a child event. */
export function newEnvelope<D extends EventDefinition>(
  def: D,
  payload: Parameters<D['aggregateId']>[0],
  meta: EventMeta = {},
): EventEnvelope<D['name'], Parameters<D['aggregateId']>[0], D['version']> {
  return events.create(def, payload, meta);
}

/** Parses untrusted input into a typed, validated, upcast envelope, or lists every problem. Never throws. */
export function parseEnvelope(input: unknown, options?: ParseOptions): ParseResult {
  return events.parse(input, options);
}

import type { AnyEventDefinition } from './definitions/index.js';
import type { EnvelopeOf } from './envelope.js';
/** Every Albergue event envelope, discriminated by `event_type`. */
export type AlbergueEvent = EnvelopeOf<AnyEventDefinition>;
