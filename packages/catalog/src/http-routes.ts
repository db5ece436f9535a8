// A service's HTTP entry points without starting it: its whole HTTP API plugin (the one its
// service.ts registers) is registered on the runtime's own Fastify app (buildServiceHttp, which adds
// /health, /metrics and /openapi.json) with inert dependencies, and the routes are read as Fastify
// adds them. No database, broker or port is opened.
import Fastify from 'fastify';
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify';
import { Registry } from 'prom-client';
import { createLogger } from '@albergue/platform';
import { buildServiceHttp } from '@albergue/runtime';
import type { HttpRoute } from './input.js';

/**
 * A stand-in for a plugin's dependencies: any property is another stand-in, and calling one throws.
 * Registering routes must not use their dependencies (only handling a request may), except those given
 * in `real` (top-level properties a plugin reads while registering, e.g. a metrics registry, a number).
 */
export function inertDependencies<T>(name = 'dependencies', real: Partial<NoInfer<T>> = {}): T {
  const given = real as Record<string | symbol, unknown>;
  const make = (path: string, top = false): unknown =>
    new Proxy(() => undefined, {
      get: (_t, prop) => (top && Object.hasOwn(given, prop) ? given[prop] : prop === 'then' ? undefined : make(`${path}.${String(prop)}`)),
      apply: () => {
        throw new Error(
          `${path} was called while the catalog only lists routes: a route plugin must not use its dependencies at registration`,
        );
      },
    });
  return make(name, true) as T;
}

const METHOD_ORDER = ['ANY', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** A route registered for all of these (Fastify's `all`) is listed once, as `ANY`. */
const EVERY_METHOD = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface HttpRoutesOptions {
  /**
   * The plugin is a whole app of its own (the gateway), not run by the service runtime: it is
   * registered on a bare Fastify app, no route is the runtime's, and a route hidden from OpenAPI
   * without a summary under a listed route's path (`/docs/json` under `/docs`: a third-party
   * plugin's files) is folded into that route.
   */
  readonly standalone?: boolean;
}

/** The routes `plugin` serves in the service's runtime (or on its own app), sorted by path then method. */
export async function httpRoutesOf(service: string, plugin: FastifyPluginAsync, o: HttpRoutesOptions = {}): Promise<HttpRoute[]> {
  // Read once the app is ready: a later onRoute hook of the plugin may still complete a route's schema.
  const registered: RouteOptions[] = [];
  const onRoute = (r: RouteOptions) => {
    registered.push(r);
  };
  const routes: (HttpRoute & { hidden: boolean })[] = [];
  const record = (r: RouteOptions) => {
    const schema = r.schema as { summary?: string; hide?: boolean } | undefined;
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).map((m) => String(m).toUpperCase());
    const every = EVERY_METHOD.every((m) => methods.includes(m));
    for (const method of every ? ['ANY'] : methods) {
      if (method === 'HEAD') continue; // Fastify adds HEAD for every GET
      routes.push({
        method,
        path: r.url,
        ...(schema?.summary ? { summary: schema.summary } : {}),
        operational: !o.standalone && schema?.hide === true,
        hidden: schema?.hide === true,
      });
    }
  };
  let app: FastifyInstance;
  if (o.standalone) {
    app = Fastify();
    app.addHook('onRoute', onRoute);
  } else {
    ({ app } = await buildServiceHttp({
      service,
      logger: createLogger(service, { level: 'silent' }),
      metrics: new Registry(),
      checks: {},
      onRoute,
    }));
  }
  try {
    await app.register(plugin);
    await app.ready();
  } finally {
    await app.close();
  }
  for (const r of registered) record(r);
  const listed = o.standalone
    ? routes.filter(
        (r) =>
          !(
            r.hidden &&
            r.summary === undefined &&
            routes.some((p) => p !== r && p.summary !== undefined && r.path.startsWith(p.path.endsWith('/') ? p.path : `${p.path}/`))
          ),
      )
    : routes;
  return listed
    .map(({ hidden: _hidden, ...r }) => r)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) || METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method));
}
