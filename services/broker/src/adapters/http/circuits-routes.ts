import type { FastifyPluginCallback } from 'fastify';
import type { BreakerStatus } from '@albergue/messaging';
import type { HttpApiDeps } from './deps.js';
import { adminErrors, bearer, problemSchema } from './schemas.js';

const breakerJson = (b: BreakerStatus) => ({
  subscriber: b.subscriber,
  topic: b.topic,
  state: b.state,
  failures: b.failures,
  ...(b.openUntil !== undefined ? { open_until: new Date(b.openUntil).toISOString() } : {}),
});

export const circuitRoutes =
  (deps: HttpApiDeps): FastifyPluginCallback =>
  (app, _opts, done) => {
    app.get(
      '/circuits',
      {
        schema: {
          summary: 'Circuit breakers with their state',
          tags: ['circuits'],
          security: bearer,
          response: { 401: problemSchema, 503: problemSchema },
        },
      },
      async () => ({
        circuits: (await deps.breakers.list()).map(breakerJson),
      }),
    );

    app.post<{ Body: { subscriber: string; topic: string } }>(
      '/circuits/reset',
      {
        schema: {
          summary: 'Force a breaker closed and clear its failures',
          tags: ['circuits'],
          security: bearer,
          body: {
            type: 'object',
            required: ['subscriber', 'topic'],
            additionalProperties: false,
            properties: {
              subscriber: { type: 'string', minLength: 1, maxLength: 64 },
              topic: { type: 'string', minLength: 1, maxLength: 300 },
            },
          },
          response: adminErrors,
        },
      },
      async (req) => {
        await deps.breakers.reset(req.body.subscriber, req.body.topic);
        return { status: breakerJson(await deps.breakers.status(req.body.subscriber, req.body.topic)) };
      },
    );
    done();
  };
