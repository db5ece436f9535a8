// @albergue/events, the pure entry: definitions, types, envelopes, validation, topics, CloudEvents.
// No file system and no sample data here (domains import this entry); schema files, the
// compatibility check and the sample payloads are in `@albergue/events/node` (./node.ts).
import type { EventDefinition } from './define';
import { ALL_EVENTS } from './definitions/index';
import type { EventEnvelope, EventMeta } from './envelope';
import type { ParseOptions, ParseResult } from './registry';
import { EventRegistry } from './registry';
import { UPCASTERS } from './upcasters';

export * from './define';
export * from './definitions/index';
export * from './envelope';
export * from './primitives';
export * from './readonly';
export * from './limits';
export * from './registry';
export * from './schema';
export * from './topics';
export * from './cloudevents';
export type { Problem } from './validation';
export { formatProblems } from './validation';

/** The registry of every Albergue event, with its upcasters. */
export const events = new EventRegistry(ALL_EVENTS, UPCASTERS);

/** A new event of `def`, validated and deeply frozen; pass `withCorrelation(parent)` for a child event. */
export function newEnvelope<D extends EventDefinition>(def: D, payload: Parameters<D['aggregateId']>[0], meta: EventMeta = {}): EventEnvelope<D['name'], Parameters<D['aggregateId']>[0], D['version']> {
  return events.create(def, payload, meta);
}

/** Parses untrusted input into a typed, validated, upcast envelope, or lists every problem. Never throws. */
export function parseEnvelope(input: unknown, options?: ParseOptions): ParseResult {
  return events.parse(input, options);
}

import type { AnyEventDefinition } from './definitions/index';
import type { EnvelopeOf } from './envelope';
/** Every Albergue event envelope, discriminated by `event_type`. */
export type AlbergueEvent = EnvelopeOf<AnyEventDefinition>;
