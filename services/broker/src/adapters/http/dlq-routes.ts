import type { FastifyPluginCallback } from 'fastify';
import type { HttpApiDeps } from './deps.js';
import { deadLetterJson, replayJson } from './dlq-json.js';
import { sendProblem } from './problem.js';
import { adminErrors, bearer, deadLetter, logicalTopicParam, problemSchema } from './schemas.js';

const idsSchema = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 10_000 } as const;
const subscriberSchema = { type: 'string', minLength: 1, maxLength: 64 } as const;

export const dlqRoutes =
  (deps: HttpApiDeps): FastifyPluginCallback =>
  (app, _opts, done) => {
    app.get(
      '/dlq',
      {
        schema: {
          summary: 'DLQ topics with their depth',
          tags: ['dlq'],
          security: bearer,
          response: { 401: problemSchema, 503: problemSchema },
        },
      },
      async () => ({ topics: await deps.dlq.topics() }),
    );

    app.get<{ Params: { topic: string }; Querystring: { offset?: string; limit?: string } }>(
      '/dlq/:topic',
      {
        schema: {
          summary: 'Dead letters of a topic, oldest first (each body at most its first 4 KiB, with size and SHA-256)',
          tags: ['dlq'],
          security: bearer,
          params: logicalTopicParam,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              offset: { type: 'string', pattern: '^(0|[1-9][0-9]{0,8})$', description: 'integer ≥ 0' },
              limit: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$', description: 'integer 1..1000' },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                topic: { type: 'string' },
                offset: { type: 'integer' },
                limit: { type: 'integer' },
                total: { type: 'integer' },
                entries: { type: 'array', items: deadLetter },
              },
            },
            ...adminErrors,
          },
        },
      },
      async (req) => {
        const page = await deps.dlq.read(req.params.topic, {
          ...(req.query.offset !== undefined ? { offset: Number(req.query.offset) } : {}),
          ...(req.query.limit !== undefined ? { limit: Number(req.query.limit) } : {}),
        });
        return { topic: page.topic, offset: page.offset, limit: page.limit, total: page.total, entries: page.entries.map(deadLetterJson) };
      },
    );

    app.get<{ Params: { topic: string; id: string }; Querystring: { subscriber?: string } }>(
      '/dlq/:topic/:id',
      {
        schema: {
          summary: 'One dead letter (body at most its first 4 KiB, with size and SHA-256)',
          tags: ['dlq'],
          security: bearer,
          params: {
            type: 'object',
            required: ['topic', 'id'],
            properties: {
              ...logicalTopicParam.properties,
              id: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.:-]+$' },
            },
          },
          querystring: { type: 'object', additionalProperties: false, properties: { subscriber: subscriberSchema } },
          response: { 200: deadLetter, 404: problemSchema, ...adminErrors },
        },
      },
      async (req, reply) => {
        const entry = await deps.dlq.get(req.params.topic, req.params.id, req.query.subscriber);
        if (!entry)
          return sendProblem(reply, {
            status: 404,
            code: 'dead_letter_not_found',
            detail: `no dead letter ${req.params.id} on ${req.params.topic}; list them with GET /api/mqtt/dlq/${req.params.topic}`,
          });
        return deadLetterJson(entry);
      },
    );

    app.post<{ Params: { topic: string }; Body: { ids?: string[]; subscriber?: string; dry_run?: boolean } | undefined }>(
      '/dlq/:topic/replay',
      {
        schema: {
          summary: "Replay dead letters into their subscriber's ledger",
          description:
            'Re-validates each entry and records the valid ones again with a fresh attempt budget, then removes them from the DLQ. All of the topic unless ids/subscriber narrow it. dry_run: true reports what would happen and changes nothing.',
          tags: ['dlq'],
          security: bearer,
          params: logicalTopicParam,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { ids: idsSchema, subscriber: subscriberSchema, dry_run: { type: 'boolean' } },
          },
          response: adminErrors,
        },
      },
      async (req) =>
        replayJson(
          await deps.dlq.replay(req.params.topic, {
            dryRun: req.body?.dry_run ?? false,
            ...(req.body?.ids ? { ids: req.body.ids } : {}),
            ...(req.body?.subscriber !== undefined ? { subscriber: req.body.subscriber } : {}),
          }),
        ),
    );

    app.post<{ Params: { topic: string }; Body: { ids?: string[]; subscriber?: string } | undefined }>(
      '/dlq/:topic/purge',
      {
        schema: {
          summary: 'Delete dead letters',
          description: 'All of the topic unless ids/subscriber narrow it.',
          tags: ['dlq'],
          security: bearer,
          params: logicalTopicParam,
          body: { type: 'object', additionalProperties: false, properties: { ids: idsSchema, subscriber: subscriberSchema } },
          response: adminErrors,
        },
      },
      async (req) => ({
        purged: await deps.dlq.purge(req.params.topic, {
          ...(req.body?.ids ? { ids: req.body.ids } : {}),
          ...(req.body?.subscriber !== undefined ? { subscriber: req.body.subscriber } : {}),
        }),
      }),
    );
    done();
  };
