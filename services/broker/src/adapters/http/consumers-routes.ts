import type { FastifyPluginCallback } from 'fastify';
import { SubscriptionError } from '../../application/http-consumers';
import type { HttpApiDeps } from './deps';
import { bearer, errorBody } from './schemas';

interface RegisterBody {
  subscriber: string;
  topic_filter: string;
  max_attempts?: number;
  visibility_timeout_ms?: number;
  retry_delay_ms?: number;
  max_retry_delay_ms?: number;
}

const receiptBody = { type: 'object', required: ['receipt'], additionalProperties: false, properties: { receipt: { type: 'string', minLength: 3, maxLength: 1_000_000 } } } as const;

export const consumerRoutes = (deps: HttpApiDeps): FastifyPluginCallback => (app, _opts, done) => {
  app.post<{ Body: RegisterBody }>('/subscriptions', {
    schema: {
      summary: 'Register (or update) a durable HTTP subscription',
      description: 'From now on, MQTT messages matching topic_filter are recorded in the delivery ledger for the subscriber until pulled and acked.',
      tags: ['consumers'], security: bearer,
      body: {
        type: 'object', required: ['subscriber', 'topic_filter'], additionalProperties: false,
        properties: {
          subscriber: { type: 'string', minLength: 1, maxLength: 64 },
          topic_filter: { type: 'string', minLength: 1, maxLength: 300, description: 'MQTT filter (albergue/booking/#) or logical topic' },
          max_attempts: { type: 'integer', minimum: 1, maximum: 100 },
          visibility_timeout_ms: { type: 'integer', minimum: 100, maximum: 86_400_000 },
          retry_delay_ms: { type: 'integer', minimum: 0, maximum: 3_600_000 },
          max_retry_delay_ms: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        },
      },
      response: { 400: errorBody },
    },
  }, async (req, reply) => {
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
      if (err instanceof SubscriptionError || (err as Error).name === 'PolicyError') {
        return reply.code(400).send({ error: 'bad_request', message: (err as Error).message });
      }
      throw err;
    }
  });

  app.get('/subscriptions', { schema: { summary: 'Registered HTTP subscriptions', tags: ['consumers'], security: bearer } }, () => ({
    subscriptions: deps.consumers.list().map(toJson),
  }));

  app.post<{ Body: { subscriber: string; max?: number } }>('/pull', {
    schema: {
      summary: 'Lease up to max messages of a subscriber',
      description: 'Each message comes with a receipt to ack or nack it. A lease not acked within the visibility timeout lapses; the message comes back with attempt + 1, and past max_attempts goes to the DLQ.',
      tags: ['consumers'], security: bearer,
      body: { type: 'object', required: ['subscriber'], additionalProperties: false, properties: { subscriber: { type: 'string', minLength: 1, maxLength: 64 }, max: { type: 'integer', minimum: 1, maximum: 500 } } },
      response: { 404: errorBody },
    },
  }, async (req, reply) => {
    const { subscriber } = req.body;
    if (!deps.consumers.isRegistered(subscriber)) return reply.code(404).send({ error: 'unknown_subscriber', message: `no HTTP subscription for "${subscriber}"; register one with POST /api/mqtt/subscriptions` });
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
  });

  app.post<{ Body: { receipt: string } }>('/ack', {
    schema: { summary: 'Acknowledge a leased message (done)', tags: ['consumers'], security: bearer, body: receiptBody, response: { 400: errorBody, 409: errorBody } },
  }, async (req, reply) => {
    const d = deps.receipts.verify(req.body.receipt);
    if (!d) return reply.code(400).send({ error: 'bad_receipt', message: 'receipt is malformed or was not issued by this broker' });
    const outcome = await deps.ledger.ack(d);
    if (outcome === 'stale') return reply.code(409).send({ error: 'stale_lease', message: `the lease on ${d.eventId} lapsed or was already settled; the message will be (or was) delivered again` });
    return { status: outcome, event_id: d.eventId };
  });

  app.post<{ Body: { receipt: string; error: string } }>('/nack', {
    schema: {
      summary: 'Report a failed attempt on a leased message',
      tags: ['consumers'], security: bearer,
      body: { type: 'object', required: ['receipt', 'error'], additionalProperties: false, properties: { receipt: receiptBody.properties.receipt, error: { type: 'string', minLength: 1, maxLength: 10_000 } } },
      response: { 400: errorBody, 409: errorBody },
    },
  }, async (req, reply) => {
    const d = deps.receipts.verify(req.body.receipt);
    if (!d) return reply.code(400).send({ error: 'bad_receipt', message: 'receipt is malformed or was not issued by this broker' });
    const outcome = await deps.ledger.nack(d, req.body.error);
    if (outcome === 'stale') return reply.code(409).send({ error: 'stale_lease', message: `the lease on ${d.eventId} lapsed or was already settled` });
    return { status: outcome, event_id: d.eventId };
  });
  done();
};

function toJson(s: { subscriber: string; filter: string; maxAttempts: number; visibilityTimeoutMs: number; retryDelayMs: number; maxRetryDelayMs: number; createdAt: string }) {
  return {
    subscriber: s.subscriber, topic_filter: s.filter, max_attempts: s.maxAttempts, visibility_timeout_ms: s.visibilityTimeoutMs,
    retry_delay_ms: s.retryDelayMs, max_retry_delay_ms: s.maxRetryDelayMs, created_at: s.createdAt,
  };
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
