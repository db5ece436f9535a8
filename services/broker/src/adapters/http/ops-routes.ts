import type { FastifyPluginCallback } from 'fastify';
import type { HttpApiDeps } from './deps.js';
import type { RouteAccess } from './server.js';

// The only public routes (server.ts denies every other route without the admin token): liveness,
// Prometheus scraping and the API description, none of which reads or changes messages.
const open: RouteAccess = { public: true };

export const opsRoutes =
  (deps: HttpApiDeps): FastifyPluginCallback =>
  (app, _opts, done) => {
    app.get(
      '/health',
      { config: open, schema: { summary: 'Liveness and readiness (MQTT listener and Redis reachable)', tags: ['ops'] } },
      async (_req, reply) => {
        const h = await deps.health();
        return reply.code(h.ready ? 200 : 503).send({
          status: h.ready ? 'ok' : 'unavailable',
          mqtt: h.mqtt,
          redis: h.redis,
          ...(h.reason !== undefined ? { reason: h.reason } : {}),
        });
      },
    );

    app.get('/metrics', { config: open, schema: { summary: 'Prometheus metrics', tags: ['ops'] } }, async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    });

    app.get('/openapi.json', { config: open, schema: { hide: true } }, () => app.swagger());

    app.get('/docs', { config: open, schema: { hide: true } }, (_req, reply) => {
      const spec = app.swagger() as { paths?: Record<string, Record<string, { summary?: string }>> };
      const rows = Object.entries(spec.paths ?? {}).flatMap(([path, ops]) =>
        Object.entries(ops).map(
          ([method, op]) =>
            `<tr><td>${method.toUpperCase()}</td><td><code>${escape(path)}</code></td><td>${escape(op.summary ?? '')}</td></tr>`,
        ),
      );
      return reply.type('text/html').send(`<!doctype html><html><head><meta charset="utf-8"><title>Albergue broker API</title></head><body>
<h1>Albergue broker API</h1><p>OpenAPI 3.1 document: <a href="/openapi.json">/openapi.json</a>. Endpoints under <code>/api</code> need <code>Authorization: Bearer &lt;BROKER_ADMIN_TOKEN&gt;</code>.</p>
<table border="1" cellpadding="4"><tr><th>Method</th><th>Path</th><th>What</th></tr>${rows.join('')}</table></body></html>`);
    });
    done();
  };

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
