// TypeBox schemas of audit's HTTP API (validation and the OpenAPI document come from these).
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Id, Timestamp } from '@albergue/application/http';

export const EventsQuery = Type.Object(
  {
    aggregate_id: Type.Optional(Id('Only events of this aggregate.')),
    event_type: Type.Optional(
      Type.String({ pattern: '^[A-Z][A-Za-z0-9]{0,99}$', description: 'Only events of this type, e.g. BookingReserved.' }),
    ),
    correlation_id: Type.Optional(Type.String({ format: 'uuid', description: 'Only events of this flow.' })),
    from: Type.Optional(Timestamp('occurred_at at or after this instant.')),
    to: Type.Optional(Timestamp('occurred_at before this instant.')),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'next_cursor of the previous page (opaque).' })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size, 1–1000 (default 100).' })),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const EventPage = Type.Object({
  items: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      event_id: Type.String(),
      topic: Type.String(),
      event_type: Type.String(),
      recorded_at: Type.String(),
      envelope: Type.Object({}, { additionalProperties: true, description: 'The envelope as received.' }),
    }),
  ),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Null when nothing more matches now.' }),
});

export const FlowParams = Type.Object({ correlation_id: Type.String({ format: 'uuid', description: 'The flow (correlation_id).' }) });
export const BookingParams = Type.Object({ booking_id: Id('Booking id.') });
