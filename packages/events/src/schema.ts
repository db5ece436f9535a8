import type { EventDefinition } from './define.js';
import { UUID_PATTERN, UUID_V7_PATTERN } from './envelope.js';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** Plain JSON copy of a TypeBox schema (drops TypeBox's symbol keys). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

const ENVELOPE_FIELDS = [
  'event_id',
  'event_type',
  'event_version',
  'aggregate_type',
  'aggregate_id',
  'occurred_at',
  'correlation_id',
  'causation_id',
  'payload',
] as const;

function envelopeProperties(payload: unknown, pins: { event_type?: string; event_version?: number; aggregate_type?: string }) {
  return {
    event_id: { type: 'string', pattern: UUID_V7_PATTERN, description: 'Unique id of this event, a lowercase UUIDv7 (time-ordered).' },
    event_type:
      pins.event_type === undefined ? { type: 'string', pattern: '^[A-Z][A-Za-z0-9]*$', maxLength: 100 } : { const: pins.event_type },
    event_version: pins.event_version === undefined ? { type: 'integer', minimum: 1 } : { const: pins.event_version },
    aggregate_type: pins.aggregate_type === undefined ? { type: 'string', minLength: 1, maxLength: 100 } : { const: pins.aggregate_type },
    aggregate_id: { type: 'string', minLength: 1, maxLength: 200 },
    occurred_at: { type: 'string', format: 'date-time', pattern: 'Z$', description: 'When it happened, ISO-8601 in UTC (ends with Z).' },
    correlation_id: { type: 'string', pattern: UUID_PATTERN, description: 'The business flow; its first event_id.' },
    causation_id: { type: 'string', minLength: 1, maxLength: 200, description: 'The event_id or command id that caused this event.' },
    payload,
  };
}

/** Envelope shape without knowing the event type: used to read type and version first. */
export function baseEnvelopeSchema(): Record<string, unknown> {
  return {
    $schema: JSON_SCHEMA_DIALECT,
    $id: 'urn:albergue:envelope',
    title: 'Albergue event envelope',
    type: 'object',
    additionalProperties: false,
    required: [...ENVELOPE_FIELDS],
    properties: envelopeProperties({ type: 'object' }, {}),
  };
}

/** The full JSON Schema (draft 2020-12) of one event version: envelope plus its payload. */
export function eventSchema(def: EventDefinition): Record<string, unknown> {
  return {
    $schema: JSON_SCHEMA_DIALECT,
    $id: def.schemaId,
    $comment: `Generated from packages/events definitions by \`npm run schemas\`; do not edit. Topic: ${def.topic}`,
    title: `${def.name} v${def.version}`,
    description: def.description,
    type: 'object',
    additionalProperties: false,
    required: [...ENVELOPE_FIELDS],
    properties: envelopeProperties(plain(def.payload), {
      event_type: def.name,
      event_version: def.version,
      aggregate_type: def.aggregateType,
    }),
  };
}

/** Where a schema file lives under packages/events/schemas. */
export function schemaFileName(def: Pick<EventDefinition, 'context' | 'name' | 'version'>): string {
  return `${def.context}/${def.name}.v${def.version}.schema.json`;
}
