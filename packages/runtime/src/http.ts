import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from '@albergue/platform';
import type { Registry } from 'prom-client';

/** A readiness check: resolves true when the dependency is usable, false or throws when not. */
export type ReadinessCheck = () => Promise<boolean>;

export interface HttpOptions {
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly checks: Record<string, ReadinessCheck>;
  readonly description?: string;
  /** Request body limit in bytes (default 64 KiB). */
  readonly bodyLimit?: number;
}

/**
 * The service's Fastify app: OpenAPI at /openapi.json, Prometheus at /metrics, and /health —
 * 200 when every readiness check passes, 503 with the failing ones otherwise (liveness is the
 * process answering at all).
 */
export async function buildHttp(o: HttpOptions): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; the cast keeps the app's type the plain FastifyInstance routes plugins expect.
  const app = Fastify({ loggerInstance: o.logger, bodyLimit: o.bodyLimit ?? 64 * 1024 }) as unknown as FastifyInstance;
  await app.register(swagger, {
    openapi: { info: { title: `Albergue ${o.service}`, version: '1.0.0', ...(o.description ? { description: o.description } : {}) } },
  });
  app.get('/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.send(app.swagger()));
  app.get('/metrics', { schema: { hide: true } }, (_req, reply) => {
    reply.header('content-type', o.metrics.contentType);
    return o.metrics.metrics();
  });
  app.get('/health', { schema: { hide: true } }, async (_req, reply) => {
    const results = await Promise.all(
      Object.entries(o.checks).map(async ([name, check]) => {
        try {
          return [name, (await withTimeout(check(), 2_000)) ? 'up' : 'down'] as const;
        } catch (err) {
          return [name, `down: ${(err as Error).message}`] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, s]) => s === 'up');
    return reply.code(ready ? 200 : 503).send({ service: o.service, status: ready ? 'ready' : 'not_ready', checks });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url}` }));
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}
