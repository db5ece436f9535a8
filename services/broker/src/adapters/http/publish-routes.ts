import type { FastifyPluginCallback, FastifyReply } from 'fastify';
import { fromMqttTopic, toMqttTopic } from '@albergue/events';
import { isValidFilter } from '../../domain/topic-filter.js';
import type { HttpApiDeps } from './deps.js';
import { sendProblem } from './problem.js';
import { adminErrors, bearer, problemSchema } from './schemas.js';

/** The most of a retained payload the API returns as text (bytes); bigger ones are cut and flagged. */
const RETAINED_PREVIEW_BYTES = 64 * 1024;

const topicQuery = {
  type: 'object',
  required: ['topic'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1, maxLength: 1000, description: 'MQTT topic or filter (albergue/booking/#) or a logical topic' },
  },
} as const;

export const publishRoutes =
  (deps: HttpApiDeps): FastifyPluginCallback =>
  (app, _opts, done) => {
    app.post<{ Querystring: { retain?: 'true' | 'false' } }>(
      '/publish',
      {
        schema: {
          summary: 'Publish an event envelope',
          description:
            'Validates the envelope (400 lists every problem), stores it once under its event_id (`mqtt:message:<event_id>`), emits it on the Redis channel `mqtt:channel:<topic>` and publishes it over MQTT with QoS 1 on the topic of its event type. A repeated event_id is accepted (200, status duplicate) and not published again.',
          tags: ['publish'],
          security: bearer,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { retain: { type: 'string', enum: ['true', 'false'], description: 'Publish as an MQTT retained message' } },
          },
          body: { type: 'object', description: 'The event envelope (ARCHITECTURE §2)' },
          response: { 409: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const result = await deps.publish(req.body, { retain: req.query.retain === 'true' });
        switch (result.status) {
          case 'invalid':
            return sendProblem(reply, {
              status: 400,
              code: 'invalid_envelope',
              detail: result.reason,
              errors: result.problems.map((p) => ({
                path: `/body${p.path === '/' ? '' : p.path}`,
                message: p.message,
                code: 'invalid_envelope',
              })),
            });
          case 'in-flight':
            return sendProblem(reply, {
              status: 409,
              code: 'in_flight',
              detail: `event ${result.eventId} is being published by another request; retry shortly`,
            });
          case 'duplicate':
            return reply.code(200).send({ status: 'duplicate', event_id: result.eventId, topic: result.topic });
          case 'published':
            deps.metrics.published.inc({ topic: result.topic });
            return reply
              .code(202)
              .send({ status: 'published', event_id: result.eventId, topic: result.topic, mqtt_topic: toMqttTopic(result.topic) });
        }
      },
    );

    app.get<{ Querystring: { topic: string } }>(
      '/retained',
      {
        schema: {
          summary: 'Retained messages matching a topic or filter (at most 1,000)',
          tags: ['retained'],
          security: bearer,
          querystring: topicQuery,
          response: adminErrors,
        },
      },
      async (req, reply) => {
        const filter = filterOf(req.query.topic, reply);
        if (filter === undefined) return reply;
        const messages = await deps.retained(filter);
        return {
          messages: messages.map((m) => {
            const truncated = m.payload.length > RETAINED_PREVIEW_BYTES;
            const text = m.payload.subarray(0, RETAINED_PREVIEW_BYTES).toString('utf8');
            let payload: unknown = text;
            if (!truncated) {
              try {
                payload = JSON.parse(text);
              } catch {
                payload = text; // not JSON: returned as text
              }
            }
            return {
              topic: fromMqttTopic(m.topic),
              mqtt_topic: m.topic,
              payload,
              payload_size: m.payload.length,
              ...(truncated ? { payload_truncated: true } : {}),
            };
          }),
        };
      },
    );

    app.delete<{ Querystring: { topic: string } }>(
      '/retained',
      {
        schema: {
          summary: 'Clear retained messages of a topic (or every topic a filter matches)',
          description:
            "Removes them from the broker's store without publishing anything: no subscriber receives an empty message, and a new subscriber no longer gets the cleared ones.",
          tags: ['retained'],
          security: bearer,
          querystring: topicQuery,
          response: adminErrors,
        },
      },
      async (req, reply) => {
        const filter = filterOf(req.query.topic, reply);
        if (filter === undefined) return reply;
        const cleared = await deps.clearRetained(filter);
        return { cleared: cleared.map((t) => ({ topic: fromMqttTopic(t), mqtt_topic: t })) };
      },
    );
    done();
  };

/** MQTT filter of a `topic` query (logical topics are converted), or undefined after sending a 400. */
function filterOf(raw: string, reply: FastifyReply): string | undefined {
  const filter = raw.includes('/') ? raw : toMqttTopic(raw);
  if (isValidFilter(filter)) return filter;
  void sendProblem(reply, {
    status: 400,
    code: 'invalid_topic',
    detail: `"${raw.slice(0, 200)}" is not a valid topic or topic filter`,
    errors: [{ path: '/query/topic', message: 'not a valid MQTT topic, filter or logical topic', code: 'invalid_topic' }],
  });
  return undefined;
}
