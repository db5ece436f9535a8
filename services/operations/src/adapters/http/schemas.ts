// TypeBox schemas of the operations API: validation and the OpenAPI document come from these.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { DateOnly, Id } from '@albergue/events';

export const OccupancyQuery = Type.Object(
  {
    albergue_id: Id('Albergue id.'),
    from: DateOnly('First night.'),
    to: DateOnly('Day after the last night (exclusive).'),
  },
  { additionalProperties: false },
);
export type OccupancyQuery = Static<typeof OccupancyQuery>;

export const BookingsQuery = Type.Object({ albergue_id: Type.Optional(Id('Only this albergue.')) }, { additionalProperties: false });
export type BookingsQuery = Static<typeof BookingsQuery>;

export const NoQuery = Type.Object({}, { additionalProperties: false });

export const FlowsQuery = Type.Object(
  {
    // A query string is text: a number is declared as digits, never coerced.
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'How many, 1 to 1000 (default 50).' })),
  },
  { additionalProperties: false },
);
export type FlowsQuery = Static<typeof FlowsQuery>;

const Source = Type.Union([Type.Literal('live'), Type.Literal('report')], {
  description: 'live: the live store (Redis, memory in the embedded mode); report: Postgres.',
});

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

export const OccupancyView = Type.Object({
  source: Source,
  albergue_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  nights: Type.Array(
    Type.Object({
      night: Type.String(),
      capacity: NullableInt,
      reserved: Type.Integer(),
      confirmed: Type.Integer(),
      free: NullableInt,
    }),
  ),
});

const StatusCounts = {
  reserved: Type.Integer(),
  confirmed: Type.Integer(),
  cancelled: Type.Integer(),
  expired: Type.Integer(),
  total: Type.Integer(),
};

export const BookingsView = Type.Object({
  source: Source,
  overall: Type.Object(StatusCounts),
  albergues: Type.Array(Type.Object({ albergue_id: Type.String(), ...StatusCounts })),
});

const MoneyCount = { currency: Type.String(), count: Type.Integer(), amount_minor: Type.Integer() };

export const PaymentsView = Type.Object({
  source: Source,
  by_status: Type.Array(Type.Object({ status: Type.String(), ...MoneyCount })),
  refunds: Type.Array(Type.Object(MoneyCount)),
});

export const FlowsView = Type.Object({
  source: Source,
  total: Type.Integer({ description: 'Flows in flight in all.' }),
  flows: Type.Array(
    Type.Object({
      booking_id: Type.String(),
      albergue_id: Type.String(),
      correlation_id: Type.Union([Type.String(), Type.Null()]),
      beds: NullableInt,
      reserved_at: Type.String(),
      hold_expires_at: Type.Union([Type.String(), Type.Null()]),
      waited_ms: Type.Integer(),
    }),
  ),
});

export const ProjectionsView = Type.Object({
  live_store: Type.String(),
  projections: Type.Array(
    Type.Object({
      projection: Type.String(),
      description: Type.String(),
      events: Type.Array(Type.String()),
      rebuilt_at: Type.Union([Type.String(), Type.Null()]),
      rebuilt_events: NullableInt,
      live_stale: Type.Boolean(),
    }),
  ),
});
