import type { FastifyPluginCallback } from 'fastify';
import type { HttpApiDeps } from './deps';
import { bearer } from './schemas';

export const circuitRoutes = (deps: HttpApiDeps): FastifyPluginCallback => (app, _opts, done) => {
  app.get('/circuits', { schema: { summary: 'Circuit breakers with their state', tags: ['circuits'], security: bearer } }, async () => ({
    circuits: (await deps.breakers.list()).map((b) => ({ ...b, ...(b.openUntil !== undefined ? { openUntil: new Date(b.openUntil).toISOString() } : {}) })),
  }));

  app.post<{ Body: { subscriber: string; topic: string } }>('/circuits/reset', {
    schema: {
      summary: 'Force a breaker closed and clear its failures', tags: ['circuits'], security: bearer,
      body: { type: 'object', required: ['subscriber', 'topic'], additionalProperties: false, properties: { subscriber: { type: 'string', minLength: 1, maxLength: 64 }, topic: { type: 'string', minLength: 1, maxLength: 300 } } },
    },
  }, async (req) => {
    await deps.breakers.reset(req.body.subscriber, req.body.topic);
    return { status: await deps.breakers.status(req.body.subscriber, req.body.topic) };
  });
  done();
};
