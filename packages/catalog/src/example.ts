import { createHash } from 'node:crypto';
import type { EventDefinition } from '@albergue/events';

/** When every example happened: fixed, so the catalog does not change from run to run. */
const EXAMPLE_TIME = '2027-04-20T10:00:00.000Z';

/** A valid, deterministic UUIDv7 at `iso` whose random bits come from `seed`. */
export function deterministicUuidV7(seed: string, iso = EXAMPLE_TIME): string {
  const ms = Date.parse(iso).toString(16).padStart(12, '0');
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${h.slice(0, 3)}-${variant}${h.slice(4, 7)}-${h.slice(7, 19)}`;
}

/**
 * An example envelope of `def` carrying `payload`: fixed ids (valid UUIDv7s derived from the event's
 * topic) and time, so the catalog is stable. It is what `newEnvelope` makes, up to the ids and time.
 */
export function exampleEnvelope(def: EventDefinition, payload: unknown): Record<string, unknown> {
  return {
    event_id: deterministicUuidV7(`event ${def.topic}`),
    event_type: def.name,
    event_version: def.version,
    aggregate_type: def.aggregateType,
    aggregate_id: def.aggregateId(payload as never),
    occurred_at: EXAMPLE_TIME,
    correlation_id: deterministicUuidV7('the example flow'),
    causation_id: deterministicUuidV7(`cause of ${def.topic}`),
    payload,
  };
}
