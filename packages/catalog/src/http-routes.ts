// A service's HTTP entry points without starting it: its whole HTTP API plugin (the one its
// service.ts registers) is registered on the runtime's own Fastify app (buildServiceHttp, which adds
// /health, /metrics and /openapi.json) with inert dependencies, and the routes are read as Fastify
// adds them. No database, broker or port is opened.
import type { FastifyPluginAsync, RouteOptions } from 'fastify';
import { Registry } from 'prom-client';
import { createLogger } from '@albergue/platform';
import { buildServiceHttp } from '@albergue/runtime';
import type { HttpRoute } from './input.js';

/**
 * A stand-in for a plugin's dependencies: any property is another stand-in, and calling one throws.
 * Registering routes must not use their dependencies (only handling a request may).
 */
export function inertDependencies<T>(name = 'dependencies'): T {
  const make = (path: string): unknown =>
    new Proxy(() => undefined, {
      get: (_t, prop) => (prop === 'then' ? undefined : make(`${path}.${String(prop)}`)),
      apply: () => {
        throw new Error(
          `${path} was called while the catalog only lists routes: a route plugin must not use its dependencies at registration`,
        );
      },
    });
  return make(name) as T;
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The routes `plugin` serves in the service's runtime, sorted by path then method. */
export async function httpRoutesOf(service: string, plugin: FastifyPluginAsync): Promise<HttpRoute[]> {
  const routes: HttpRoute[] = [];
  const onRoute = (r: RouteOptions) => {
    const schema = r.schema as { summary?: string; hide?: boolean } | undefined;
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      const m = String(method).toUpperCase();
      if (m === 'HEAD') continue; // Fastify adds HEAD for every GET
      routes.push({
        method: m,
        path: r.url,
        ...(schema?.summary ? { summary: schema.summary } : {}),
        operational: schema?.hide === true,
      });
    }
  };
  const { app } = await buildServiceHttp({
    service,
    logger: createLogger(service, { level: 'silent' }),
    metrics: new Registry(),
    checks: {},
    onRoute,
  });
  try {
    await app.register(plugin);
    await app.ready();
  } finally {
    await app.close();
  }
  return routes.sort(
    (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) || METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method),
  );
}
