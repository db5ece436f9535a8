import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { DateOnly, GeoPoint, Id, Money, Timestamp } from '../primitives.js';

export const AlbergueRegistered = defineEvent({
  context: 'location',
  name: 'AlbergueRegistered',
  version: 1,
  aggregateType: 'albergue',
  description: 'A new albergue joined the network with its beds and nightly price.',
  aggregateId: (p) => p.albergue_id,
  payload: Type.Object({
    albergue_id: Id('Albergue id.'),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    town: Type.String({ minLength: 1, maxLength: 200 }),
    route: Type.String({ minLength: 1, maxLength: 100, description: 'Camino route, e.g. "Camino Francés".' }),
    location: GeoPoint,
    beds: Type.Integer({ minimum: 1, maximum: 10000 }),
    nightly_price: Money,
    registered_at: Type.Optional(Timestamp('When it was registered.')),
  }),
});

export const AlbergueCapacityChanged = defineEvent({
  context: 'location',
  name: 'AlbergueCapacityChanged',
  version: 1,
  aggregateType: 'albergue',
  description: 'An albergue now has a different number of beds from a given night on.',
  aggregateId: (p) => p.albergue_id,
  payload: Type.Object({
    albergue_id: Id('Albergue id.'),
    beds: Type.Integer({ minimum: 0, maximum: 10000 }),
    previous_beds: Type.Optional(Type.Integer({ minimum: 0 })),
    effective_from: DateOnly('First night with the new capacity.'),
  }),
});
