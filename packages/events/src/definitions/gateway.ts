import { Type } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { Timestamp } from '../primitives.js';

export const RateLimitExceeded = defineEvent({
  context: 'gateway',
  name: 'RateLimitExceeded',
  version: 1,
  aggregateType: 'client',
  description: 'A client went over its request limit on a route.',
  aggregateId: (p) => p.client_key_hash,
  payload: Type.Object({
    client_key_hash: Type.String({ pattern: '^[0-9a-f]{16,128}$', description: 'Hash of the client key (never the key or IP itself).' }),
    route: Type.String({ minLength: 1, maxLength: 200 }),
    limit: Type.Integer({ minimum: 1 }),
    window_s: Type.Integer({ minimum: 1 }),
    at: Timestamp('When the limit was hit.'),
  }),
});
