import { events } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import type { OutgoingMessage } from '../ports/publisher.js';

/** The message that carries `envelope` on its event's logical topic. */
export function toOutgoing(envelope: EventEnvelope): OutgoingMessage {
  const def = events.definition(envelope.event_type, envelope.event_version);
  if (!def) throw new Error(`cannot publish ${envelope.event_type} v${envelope.event_version}: no such event definition`);
  return { topic: def.topic, eventId: envelope.event_id, body: JSON.stringify(envelope) };
}
