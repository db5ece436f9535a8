import type { EventEnvelope } from './envelope.js';
import { schemaIdOf } from './define.js';
import { eventTopic, parseTopic } from './topics.js';
import type { Problem } from './validation.js';

/** A CloudEvents 1.0 event in structured JSON mode, as Albergue maps it. */
export interface AlbergueCloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  /** The logical topic, e.g. `albergue.booking.v1.BookingReserved`. */
  readonly type: string;
  /** `/albergue/<context>` */
  readonly source: string;
  readonly subject: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly dataschema: string;
  readonly correlationid: string;
  readonly causationid: string;
  readonly aggregatetype: string;
  readonly data: unknown;
}

/** Maps an envelope to a CloudEvent (structured mode). `context` defaults to the topic's context. */
export function toCloudEvent(envelope: EventEnvelope, context: string): AlbergueCloudEvent {
  return {
    specversion: '1.0',
    id: envelope.event_id,
    type: eventTopic(context, envelope.event_version, envelope.event_type),
    source: `/albergue/${context}`,
    subject: envelope.aggregate_id,
    time: envelope.occurred_at,
    datacontenttype: 'application/json',
    dataschema: schemaIdOf(context, envelope.event_type, envelope.event_version),
    correlationid: envelope.correlation_id,
    causationid: envelope.causation_id,
    aggregatetype: envelope.aggregate_type,
    data: envelope.payload,
  };
}

/**
 * Maps a structured-mode CloudEvent back to an (unvalidated) envelope object; pass the result to
 * `parseEnvelope` to validate and upcast it.
 */
export function fromCloudEvent(ce: unknown): { ok: true; envelope: Record<string, unknown> } | { ok: false; problems: Problem[] } {
  if (ce === null || typeof ce !== 'object' || Array.isArray(ce))
    return { ok: false, problems: [{ path: '/', message: 'a CloudEvent must be a JSON object' }] };
  const c = ce as Record<string, unknown>;
  const problems: Problem[] = [];
  if (c.specversion !== '1.0') problems.push({ path: '/specversion', message: 'must be "1.0"' });
  const topic = typeof c.type === 'string' ? parseTopic(c.type) : undefined;
  if (!topic) problems.push({ path: '/type', message: 'must be an Albergue topic like albergue.booking.v1.BookingReserved' });
  if (topic && c.source !== `/albergue/${topic.context}`)
    problems.push({ path: '/source', message: `must be /albergue/${topic.context} for type ${String(c.type)}` });
  for (const field of ['id', 'subject', 'time', 'correlationid', 'causationid', 'aggregatetype'] as const) {
    if (typeof c[field] !== 'string') problems.push({ path: `/${field}`, message: 'must be a string' });
  }
  if (problems.length > 0 || !topic) return { ok: false, problems };
  return {
    ok: true,
    envelope: {
      event_id: c.id,
      event_type: topic.eventType,
      event_version: topic.version,
      aggregate_type: c.aggregatetype,
      aggregate_id: c.subject,
      occurred_at: c.time,
      correlation_id: c.correlationid,
      causation_id: c.causationid,
      payload: c.data,
    },
  };
}
