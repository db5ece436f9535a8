// JSON Schemas of the HTTP API (validation and the OpenAPI document come from these).
import { problemSchema } from './problem.js';

export { problemSchema };

export const bearer = [{ bearerAuth: [] }];

/** Error responses every admin route documents (the bodies are RFC 9457 problems). */
export const adminErrors = { 400: problemSchema, 401: problemSchema, 503: problemSchema } as const;

export const logicalTopicParam = {
  type: 'object',
  required: ['topic'],
  properties: {
    topic: {
      type: 'string',
      minLength: 1,
      maxLength: 300,
      pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
      description: 'Logical topic, e.g. albergue.booking.v1.BookingReserved',
    },
  },
} as const;

export const deadLetter = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    topic: { type: 'string' },
    subscriber: { type: 'string' },
    body: { type: 'string', description: 'At most the first 4 KiB of the message as received' },
    body_size: { type: 'integer', description: 'Size of the whole body in bytes' },
    body_sha256: { type: 'string', description: 'SHA-256 (hex) of the whole body' },
    body_truncated: { type: 'boolean' },
    reason: { type: 'string' },
    attempts: { type: 'integer' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { attempt: { type: 'integer' }, at: { type: 'string' }, message: { type: 'string' } } },
    },
    first_failure_at: { type: 'string' },
    last_failure_at: { type: 'string' },
    dead_lettered_at: { type: 'string' },
  },
} as const;
