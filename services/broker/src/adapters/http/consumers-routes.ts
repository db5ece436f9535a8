import type { FastifyPluginCallback, FastifyReply } from 'fastify';
import { SUBSCRIBER_NAME, SubscriptionConflictError, SubscriptionError } from '../../application/http-consumers.js';
import type { HttpApiDeps } from './deps.js';
import { sendProblem } from './problem.js';
import { adminErrors, bearer, problemSchema } from './schemas.js';

interface RegisterBody {
  subscriber: string;
  topic_filter: string;
  max_attempts?: number;
  visibility_timeout_ms?: number;
  retry_delay_ms?: number;
  max_retry_delay_ms?: number;
}

const receiptBody = {
  type: 'object',
  required: ['receipt'],
  additionalProperties: false,
  properties: { receipt: { type: 'string', minLength: 3, maxLength: 1_000_000 } },
} as const;

export const consumerRoutes =
  (deps: HttpApiDeps): FastifyPluginCallback =>
  (app, _opts, done) => {
    app.post<{ Body: RegisterBody }>(
      '/subscriptions',
      {
        schema: {
          summary: 'Register (or update) a durable HTTP subscription',
          description:
            "From now on, MQTT messages matching topic_filter are recorded in the delivery ledger for the subscriber until pulled and acked. HTTP subscribers have names of their own: a declared subscriber's name (booking, payment, ...) or an MQTT account is a 409.",
          tags: ['consumers'],
          security: bearer,
          body: {
            type: 'object',
            required: ['subscriber', 'topic_filter'],
            additionalProperties: false,
            properties: {
              subscriber: { type: 'string', minLength: 1, maxLength: 64 },
              topic_filter: {
                type: 'string',
                minLength: 1,
                maxLength: 300,
                description: 'MQTT filter (albergue/booking/#) or logical topic',
              },
              max_attempts: { type: 'integer', minimum: 1, maximum: 100 },
              visibility_timeout_ms: { type: 'integer', minimum: 100, maximum: 86_400_000 },
              retry_delay_ms: { type: 'integer', minimum: 0, maximum: 3_600_000 },
              max_retry_delay_ms: { type: 'integer', minimum: 0, maximum: 86_400_000 },
            },
          },
          response: { 409: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const b = req.body;
        try {
          const { subscription, topics } = await deps.consumers.register({
            subscriber: b.subscriber,
            topicFilter: b.topic_filter,
            ...(b.max_attempts !== undefined ? { maxAttempts: b.max_attempts } : {}),
            ...(b.visibility_timeout_ms !== undefined ? { visibilityTimeoutMs: b.visibility_timeout_ms } : {}),
            ...(b.retry_delay_ms !== undefined ? { retryDelayMs: b.retry_delay_ms } : {}),
            ...(b.max_retry_delay_ms !== undefined ? { maxRetryDelayMs: b.max_retry_delay_ms } : {}),
          });
          return await reply.code(201).send({ subscription: toJson(subscription), topics });
        } catch (err) {
          if (err instanceof SubscriptionConflictError) {
            return sendProblem(reply, {
              status: 409,
              code: 'subscriber_name_taken',
              detail: err.message,
              errors: [{ path: '/body/subscriber', message: err.message, code: 'reserved_name' }],
            });
          }
          if (err instanceof SubscriptionError || (err as Error).name === 'PolicyError') {
            return sendProblem(reply, {
              status: 400,
              code: 'invalid_subscription',
              detail: (err as Error).message,
              errors: [{ path: '/body', message: (err as Error).message, code: 'invalid_subscription' }],
            });
          }
          throw err;
        }
      },
    );

    app.get(
      '/subscriptions',
      {
        schema: {
          summary: "Registered HTTP subscriptions (every broker instance's)",
          tags: ['consumers'],
          security: bearer,
          response: adminErrors,
        },
      },
      async () => ({
        subscriptions: (await deps.consumers.list()).map((s) => ({ ...toJson(s), active: s.active })),
      }),
    );

    app.delete<{ Params: { subscriber: string }; Querystring: { topic_filter?: string } }>(
      '/subscriptions/:subscriber',
      {
        schema: {
          summary: 'Delete the HTTP subscriptions of a subscriber (or only the one with topic_filter)',
          description: "Stops feeding them; messages already in the subscriber's ledger stay until pulled, or are visible in the DLQ.",
          tags: ['consumers'],
          security: bearer,
          params: {
            type: 'object',
            required: ['subscriber'],
            properties: { subscriber: { type: 'string', minLength: 1, maxLength: 64, pattern: SUBSCRIBER_NAME.source } },
          },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { topic_filter: { type: 'string', minLength: 1, maxLength: 300 } },
          },
          response: { 404: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const deleted = await deps.consumers.unregister(req.params.subscriber, req.query.topic_filter);
        if (deleted.length === 0) {
          return sendProblem(reply, {
            status: 404,
            code: 'subscription_not_found',
            detail: `no HTTP subscription of "${req.params.subscriber}"${req.query.topic_filter !== undefined ? ` on ${req.query.topic_filter}` : ''}; list them with GET /api/mqtt/subscriptions`,
          });
        }
        return { deleted: deleted.map(toJson) };
      },
    );

    app.post<{ Body: { subscriber: string; max?: number } }>(
      '/pull',
      {
        schema: {
          summary: 'Lease up to max messages of a subscriber',
          description:
            'Each message comes with a receipt to ack or nack it. A lease not acked within the visibility timeout lapses; the message comes back with attempt + 1, and past max_attempts goes to the DLQ.',
          tags: ['consumers'],
          security: bearer,
          body: {
            type: 'object',
            required: ['subscriber'],
            additionalProperties: false,
            properties: { subscriber: { type: 'string', minLength: 1, maxLength: 64 }, max: { type: 'integer', minimum: 1, maximum: 500 } },
          },
          response: { 404: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const { subscriber } = req.body;
        if (!deps.consumers.isRegistered(subscriber))
          return sendProblem(reply, {
            status: 404,
            code: 'unknown_subscriber',
            detail: `no HTTP subscription for "${subscriber}"; register one with POST /api/mqtt/subscriptions`,
          });
        const deliveries = await deps.ledger.lease(subscriber, req.body.max ?? 10);
        return {
          messages: deliveries.map((d) => ({
            event_id: d.eventId,
            topic: d.topic,
            attempt: d.attempt,
            max_attempts: d.maxAttempts,
            lease_expires_at: new Date(d.leaseExpiresAt).toISOString(),
            envelope: safeJson(d.body),
            errors: d.errors,
            receipt: deps.receipts.sign(d),
          })),
        };
      },
    );

    app.post<{ Body: { receipt: string } }>(
      '/ack',
      {
        schema: {
          summary: 'Acknowledge a leased message (done)',
          tags: ['consumers'],
          security: bearer,
          body: receiptBody,
          response: { 409: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const d = deps.receipts.verify(req.body.receipt);
        if (!d) return badReceipt(reply);
        const outcome = await deps.ledger.ack(d);
        if (outcome === 'stale')
          return sendProblem(reply, {
            status: 409,
            code: 'stale_lease',
            detail: `the lease on ${d.eventId} lapsed or was already settled; the message will be (or was) delivered again`,
          });
        return { status: outcome, event_id: d.eventId };
      },
    );

    app.post<{ Body: { receipt: string; error: string } }>(
      '/nack',
      {
        schema: {
          summary: 'Report a failed attempt on a leased message',
          tags: ['consumers'],
          security: bearer,
          body: {
            type: 'object',
            required: ['receipt', 'error'],
            additionalProperties: false,
            properties: { receipt: receiptBody.properties.receipt, error: { type: 'string', minLength: 1, maxLength: 10_000 } },
          },
          response: { 409: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const d = deps.receipts.verify(req.body.receipt);
        if (!d) return badReceipt(reply);
        const outcome = await deps.ledger.nack(d, req.body.error);
        if (outcome === 'stale')
          return sendProblem(reply, {
            status: 409,
            code: 'stale_lease',
            detail: `the lease on ${d.eventId} lapsed or was already settled`,
          });
        return { status: outcome, event_id: d.eventId };
      },
    );
    done();
  };

function badReceipt(reply: FastifyReply): FastifyReply {
  return sendProblem(reply, {
    status: 400,
    code: 'bad_receipt',
    detail: 'the receipt is malformed or was not issued by this broker; use the receipt of a pulled message as is',
    errors: [{ path: '/body/receipt', message: 'not a receipt of this broker', code: 'bad_receipt' }],
  });
}

function toJson(s: {
  subscriber: string;
  filter: string;
  maxAttempts: number;
  visibilityTimeoutMs: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  createdAt: string;
}) {
  return {
    subscriber: s.subscriber,
    topic_filter: s.filter,
    max_attempts: s.maxAttempts,
    visibility_timeout_ms: s.visibilityTimeoutMs,
    retry_delay_ms: s.retryDelayMs,
    max_retry_delay_ms: s.maxRetryDelayMs,
    created_at: s.createdAt,
  };
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
