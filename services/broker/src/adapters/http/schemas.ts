// JSON Schemas of the HTTP API (validation and the OpenAPI document come from these).

export const errorBody = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    problems: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;

export const bearer = [{ bearerAuth: [] }];

export const logicalTopicParam = {
  type: 'object',
  required: ['topic'],
  properties: { topic: { type: 'string', minLength: 1, maxLength: 300, description: 'Logical topic, e.g. albergue.booking.v1.BookingReserved' } },
} as const;

export const deadLetter = {
  type: 'object',
  properties: {
    id: { type: 'string' }, topic: { type: 'string' }, subscriber: { type: 'string' }, body: { type: 'string' },
    reason: { type: 'string' }, attempts: { type: 'integer' },
    errors: { type: 'array', items: { type: 'object', properties: { attempt: { type: 'integer' }, at: { type: 'string' }, message: { type: 'string' } } } },
    firstFailureAt: { type: 'string' }, lastFailureAt: { type: 'string' }, deadLetteredAt: { type: 'string' },
  },
} as const;
