import type { FastifyPluginCallback } from 'fastify';
import { fromMqttTopic, toMqttTopic } from '@albergue/events';
import { isValidFilter } from '../../domain/topic-filter';
import type { HttpApiDeps } from './deps';
import { bearer, errorBody } from './schemas';

export const publishRoutes = (deps: HttpApiDeps): FastifyPluginCallback => (app, _opts, done) => {
  app.post<{ Querystring: { retain?: boolean } }>('/publish', {
    schema: {
      summary: 'Publish an event envelope',
      description: 'Validates the envelope (400 lists every problem), stores it once under its event_id (`mqtt:message:<event_id>`), emits it on the Redis channel `mqtt:channel:<topic>` and publishes it over MQTT with QoS 1 on the topic of its event type. A repeated event_id is accepted (200, status duplicate) and not published again.',
      tags: ['publish'], security: bearer,
      querystring: { type: 'object', additionalProperties: false, properties: { retain: { type: 'boolean', description: 'Publish as an MQTT retained message' } } },
      body: { type: 'object', description: 'The event envelope (ARCHITECTURE §2)' },
      response: { 400: errorBody, 409: errorBody },
    },
  }, async (req, reply) => {
    const result = await deps.publish(req.body, { retain: req.query.retain ?? false });
    switch (result.status) {
      case 'invalid':
        return reply.code(400).send({ error: 'invalid_envelope', message: result.reason, problems: result.problems });
      case 'in-flight':
        return reply.code(409).send({ error: 'in_flight', message: `event ${result.eventId} is being published by another request; retry shortly` });
      case 'duplicate':
        return reply.code(200).send({ status: 'duplicate', event_id: result.eventId, topic: result.topic });
      case 'published':
        deps.metrics.published.inc({ topic: result.topic });
        return reply.code(202).send({ status: 'published', event_id: result.eventId, topic: result.topic, mqtt_topic: toMqttTopic(result.topic) });
    }
  });

  app.get<{ Querystring: { topic: string } }>('/retained', {
    schema: {
      summary: 'Retained messages matching a topic or filter',
      tags: ['publish'], security: bearer,
      querystring: { type: 'object', required: ['topic'], properties: { topic: { type: 'string', minLength: 1, maxLength: 1000, description: 'MQTT topic or filter (albergue/booking/#) or a logical topic' } } },
    },
  }, async (req, reply) => {
    const raw = req.query.topic;
    const filter = raw.includes('/') ? raw : toMqttTopic(raw);
    if (!isValidFilter(filter)) return reply.code(400).send({ error: 'bad_request', message: `"${raw}" is not a valid topic or topic filter` });
    const messages = await deps.retained(filter);
    return {
      messages: messages.map((m) => {
        const text = m.payload.toString('utf8');
        let payload: unknown = text;
        try {
          payload = JSON.parse(text);
        } catch {
          // not JSON: returned as text
        }
        return { topic: fromMqttTopic(m.topic), mqtt_topic: m.topic, payload };
      }),
    };
  });
  done();
};
