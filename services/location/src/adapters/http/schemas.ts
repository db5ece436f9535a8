// TypeBox schemas of location's HTTP API: validation and the OpenAPI document come from these.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { CURRENCY_PATTERN, DateOnly, Id } from '@albergue/application/http';
import { MAX_BEDS, MAX_NIGHTLY_PRICE_MINOR } from '../../domain/albergue.js';

const Money = Type.Object(
  {
    amount_minor: Type.Integer({ minimum: 1, maximum: MAX_NIGHTLY_PRICE_MINOR, description: 'Price per bed and night in cents.' }),
    currency: Type.String({ pattern: CURRENCY_PATTERN, default: 'EUR', description: 'ISO 4217, e.g. EUR.' }),
  },
  { additionalProperties: false },
);

export const RegisterBody = Type.Object(
  {
    albergue_id: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$', description: 'Chosen id (a slug); generated when absent.' }),
    ),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    town: Type.String({ minLength: 1, maxLength: 200 }),
    route: Type.String({ minLength: 1, maxLength: 100, default: 'Camino Francés' }),
    location: Type.Object(
      { lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) },
      { additionalProperties: false },
    ),
    beds: Type.Integer({ minimum: 1, maximum: MAX_BEDS }),
    nightly_price: Money,
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const CapacityBody = Type.Object(
  {
    beds: Type.Integer({ minimum: 0, maximum: MAX_BEDS, description: 'Beds from effective_from on (0 closes the albergue).' }),
    effective_from: Type.Optional(DateOnly('First night with the new capacity; default today.')),
  },
  { additionalProperties: false },
);
export type CapacityBody = Static<typeof CapacityBody>;

export const AlbergueParams = Type.Object({ albergue_id: Id('Albergue id.') });
export const ListQuery = Type.Object(
  {
    route: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    town: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const AlbergueView = Type.Object({
  albergue_id: Type.String(),
  name: Type.String(),
  town: Type.String(),
  route: Type.String(),
  location: Type.Object({ lat: Type.Number(), lon: Type.Number() }),
  beds: Type.Integer({ description: 'Beds tonight.' }),
  nightly_price: Type.Object({ amount_minor: Type.Integer(), currency: Type.String() }),
  capacity_schedule: Type.Array(
    Type.Object({ effective_from: Type.Union([Type.String({ format: 'date' }), Type.Null()]), beds: Type.Integer() }),
  ),
  registered_at: Type.Optional(Type.String({ format: 'date-time' })),
});
export const AlbergueList = Type.Object({ albergues: Type.Array(AlbergueView) });
