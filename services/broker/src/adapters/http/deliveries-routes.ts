import type { FastifyPluginCallback } from 'fastify';
import type { BreakerStatus, DeliveryFact, DeliveryQuery } from '@albergue/messaging';
import { MAX_DELIVERY_QUERIES } from '@albergue/messaging';
import type { HttpApiDeps } from './deps.js';
import { sendProblem } from './problem.js';
import { adminErrors, bearer } from './schemas.js';

/** Events one request may ask about (each with up to 50 subscribers; at most 1,000 (event, subscriber) pairs). */
const MAX_EVENTS = 200;

interface DeliveriesBody {
  readonly events: readonly { readonly event_id: string; readonly topic: string; readonly subscribers?: readonly string[] }[];
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

const errorsJson = (errors: DeliveryFact['errors']) => errors.map((e) => ({ attempt: e.attempt, at: e.at, message: e.message }));

/** One subscriber's delivery of one event, snake_case, without absent fields. */
function deliveryJson(f: DeliveryFact): Record<string, unknown> {
  const dl = f.deadLetter;
  return {
    subscriber: f.subscriber,
    state: f.state,
    attempts: f.attempts,
    ...(f.maxAttempts !== undefined ? { max_attempts: f.maxAttempts } : {}),
    errors: errorsJson(f.errors),
    ...(f.firstReceivedAt !== undefined ? { first_received_at: iso(f.firstReceivedAt) } : {}),
    ...(f.nextAttemptAt !== undefined ? { next_attempt_at: iso(f.nextAttemptAt) } : {}),
    ...(f.leaseExpiresAt !== undefined ? { lease_expires_at: iso(f.leaseExpiresAt) } : {}),
    ...(f.processedAt !== undefined ? { processed_at: iso(f.processedAt) } : {}),
    ...(dl
      ? {
          dead_letter: {
            id: dl.id,
            reason: dl.reason,
            ...(dl.code !== undefined ? { code: dl.code } : {}),
            attempts: dl.attempts,
            errors: errorsJson(dl.errors),
            first_failure_at: dl.firstFailureAt,
            dead_lettered_at: dl.deadLetteredAt,
          },
        }
      : {}),
  };
}

const breakerJson = (b: BreakerStatus) => ({
  subscriber: b.subscriber,
  topic: b.topic,
  state: b.state,
  failures: b.failures,
  ...(b.openUntil !== undefined ? { open_until: new Date(b.openUntil).toISOString() } : {}),
});

const errorItem = {
  type: 'object',
  properties: { attempt: { type: 'integer' }, at: { type: 'string' }, message: { type: 'string' } },
} as const;

const deliveryItem = {
  type: 'object',
  properties: {
    subscriber: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'leased', 'processed', 'dead_lettered', 'unknown'] },
    attempts: { type: 'integer' },
    max_attempts: { type: 'integer' },
    errors: { type: 'array', items: errorItem },
    first_received_at: { type: 'string' },
    next_attempt_at: { type: 'string' },
    lease_expires_at: { type: 'string' },
    processed_at: { type: 'string' },
    dead_letter: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        reason: { type: 'string' },
        code: { type: 'string' },
        attempts: { type: 'integer' },
        errors: { type: 'array', items: errorItem },
        first_failure_at: { type: 'string' },
        dead_lettered_at: { type: 'string' },
      },
    },
  },
} as const;

/**
 * `POST /api/mqtt/deliveries`: where each event stands for each of its subscribers, from the ledger
 * (the audit service's flow view and the operator CLI ask here; they have no ledger access).
 */
export const deliveryRoutes =
  (deps: HttpApiDeps): FastifyPluginCallback =>
  (app, _opts, done) => {
    app.post<{ Body: DeliveriesBody }>(
      '/deliveries',
      {
        schema: {
          summary: 'Delivery state of events per subscriber (pending, leased, processed, DLQ) and the breakers that are not closed',
          description:
            'Without `subscribers`, an event is looked up for every subscriber the services declare for its topic (wildcard subscriptions included). ' +
            `At most ${MAX_EVENTS} events and ${MAX_DELIVERY_QUERIES} (event, subscriber) pairs.`,
          tags: ['deliveries'],
          security: bearer,
          body: {
            type: 'object',
            required: ['events'],
            additionalProperties: false,
            properties: {
              events: {
                type: 'array',
                minItems: 1,
                maxItems: MAX_EVENTS,
                items: {
                  type: 'object',
                  required: ['event_id', 'topic'],
                  additionalProperties: false,
                  properties: {
                    event_id: { type: 'string', minLength: 1, maxLength: 128 },
                    topic: {
                      type: 'string',
                      minLength: 1,
                      maxLength: 300,
                      pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
                      description: 'Logical topic, e.g. albergue.booking.v1.BookingReserved',
                    },
                    subscribers: {
                      type: 'array',
                      maxItems: 50,
                      items: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\s:]+$' },
                    },
                  },
                },
              },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                events: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      event_id: { type: 'string' },
                      topic: { type: 'string' },
                      deliveries: { type: 'array', items: deliveryItem },
                    },
                  },
                },
                breakers: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      subscriber: { type: 'string' },
                      topic: { type: 'string' },
                      state: { type: 'string' },
                      failures: { type: 'integer' },
                      open_until: { type: 'string' },
                    },
                  },
                },
              },
            },
            ...adminErrors,
          },
        },
      },
      async (req, reply) => {
        const asked = req.body.events.map((e) => ({
          event_id: e.event_id,
          topic: e.topic,
          subscribers: [...new Set(e.subscribers ?? deps.subscribersOf(e.topic))],
        }));
        const queries: DeliveryQuery[] = asked.flatMap((e) =>
          e.subscribers.map((subscriber) => ({ subscriber, topic: e.topic, eventId: e.event_id })),
        );
        if (queries.length > MAX_DELIVERY_QUERIES)
          return sendProblem(reply, {
            status: 400,
            code: 'invalid_request',
            detail: `at most ${MAX_DELIVERY_QUERIES} (event, subscriber) pairs per request (got ${queries.length})`,
            errors: [{ path: '/body/events', message: `at most ${MAX_DELIVERY_QUERIES} (event, subscriber) pairs`, code: 'maxItems' }],
          });
        const facts = await deps.ledger.deliveries(queries);
        let i = 0;
        const events = asked.map((e) => ({
          event_id: e.event_id,
          topic: e.topic,
          deliveries: e.subscribers.map(() => deliveryJson(facts[i++]!)),
        }));
        const pairs = [...new Map(queries.map((q) => [`${q.subscriber}\0${q.topic}`, q])).values()];
        const statuses = await Promise.all(pairs.map((q) => deps.breakers.status(q.subscriber, q.topic)));
        return { events, breakers: statuses.filter((b) => b.state !== 'closed').map(breakerJson) };
      },
    );
    done();
  };
