import { timingSafeEqual, createHash } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from '@albergue/platform';
import type { HttpApiDeps } from './deps';
import { publishRoutes } from './publish-routes';
import { consumerRoutes } from './consumers-routes';
import { dlqRoutes } from './dlq-routes';
import { circuitRoutes } from './circuits-routes';
import { opsRoutes } from './ops-routes';

export const DEFAULT_BODY_LIMIT = 256 * 1024;

/**
 * The broker's HTTP API (Fastify). Everything under /api requires `Authorization: Bearer
 * <BROKER_ADMIN_TOKEN>`; /health, /metrics, /openapi.json and /docs are open. Bad input always
 * gets a 4xx with a reason; only a failing dependency (Redis down) gives a 503.
 */
export async function buildHttpApi(deps: HttpApiDeps, logger: Logger) {
  const app = Fastify({ loggerInstance: logger.child({ component: 'http' }, { level: 'warn' }), bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT });

  // JSON only: any other content type is a 415.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Albergue broker API', version: '1.0.0', description: 'Publish events, read retained messages, consume the delivery ledger over HTTP, operate the DLQ and circuit breakers.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'BROKER_ADMIN_TOKEN' } } },
    },
  });

  const expected = digest(deps.adminToken);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith('/api/')) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'send Authorization: Bearer <BROKER_ADMIN_TOKEN>' });
    }
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      return reply.code(400).send({
        error: 'bad_request',
        message: err.message,
        problems: err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? v.keyword })),
      });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: err.code ?? 'bad_request', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(503).send({ error: 'unavailable', message: `the broker could not complete the request: ${err.message}` });
  });

  await app.register(opsRoutes(deps));
  await app.register(publishRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(consumerRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(dlqRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(circuitRoutes(deps), { prefix: '/api/mqtt' });
  return app;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
