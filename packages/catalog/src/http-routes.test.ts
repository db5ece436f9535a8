import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyPluginAsync } from 'fastify';
import { httpRoutesOf, inertDependencies } from './http-routes.js';

interface Deps {
  readonly repo: { find(id: string): Promise<string> };
  readonly config: { readonly prefix: string };
}

const plugin =
  (deps: Deps): FastifyPluginAsync =>
  (app) => {
    const { repo } = deps; // destructuring at registration is fine; calling is not
    app.get('/things/:id', { schema: { summary: 'A thing' } }, (req) => repo.find((req.params as { id: string }).id));
    app.post('/things', { schema: { summary: 'Make a thing' } }, () => 'ok');
    app.route({ method: ['PUT', 'DELETE'], url: '/things/:id', handler: () => 'ok' });
    return Promise.resolve();
  };

test("a plugin's routes are listed as the runtime serves them, the runtime's own included, without starting anything", async () => {
  const routes = await httpRoutesOf('things', plugin(inertDependencies<Deps>()));
  assert.deepEqual(
    routes.map((r) => [r.method, r.path, r.summary ?? '', r.operational]),
    [
      ['GET', '/health', '', true],
      ['GET', '/metrics', '', true],
      ['GET', '/openapi.json', '', true],
      ['POST', '/things', 'Make a thing', false],
      ['GET', '/things/:id', 'A thing', false],
      ['PUT', '/things/:id', '', false],
      ['DELETE', '/things/:id', '', false],
    ],
  );
});

test('a plugin that uses a dependency while registering fails loudly, naming it', async () => {
  const eager =
    (deps: Deps): FastifyPluginAsync =>
    async (app) => {
      const prefix = await deps.repo.find('x');
      app.get(`/${prefix}`, () => 'ok');
    };
  await assert.rejects(
    httpRoutesOf('eager', eager(inertDependencies<Deps>('eager'))),
    /eager\.repo\.find was called while the catalog only lists routes/,
  );
});

test('a standalone app (the gateway): no runtime routes, a catch-all is one ANY row, third-party files fold into their page', async () => {
  const gatewayLike =
    (deps: Deps & { readonly limit: number }): FastifyPluginAsync =>
    async (app) => {
      assert.equal(deps.limit, 7, 'a dependency given for real is itself');
      // Completes a route's schema after it was added (as the gateway names swagger-ui's page).
      app.addHook('onRoute', (r) => {
        if (r.url === '/docs') r.schema = { ...r.schema, summary: 'the reference' };
      });
      app.get('/health', { schema: { hide: true, summary: 'liveness' } }, () => 'ok');
      await app.register(
        (docs) => {
          docs.get('/', { schema: { hide: true } }, () => 'page');
          docs.get('/json', { schema: { hide: true } }, () => '{}');
          docs.get('/static/*', { schema: { hide: true } }, () => '');
          return Promise.resolve();
        },
        { prefix: '/docs' },
      );
      app.get('/undocumented/deep', { schema: { hide: true } }, () => 'kept: no listed page above it');
      app.all('/*', { schema: { hide: true, summary: 'everything else' } }, () => deps.repo.find('x'));
    };
  const routes = await httpRoutesOf('gw', gatewayLike(inertDependencies('gw', { limit: 7 })), { standalone: true });
  assert.deepEqual(
    routes.map((r) => [r.method, r.path, r.summary ?? '', r.operational]),
    [
      ['ANY', '/*', 'everything else', false],
      // Fastify serves the prefix's page at /docs and /docs/ and reports it once, as /docs/.
      ['GET', '/docs/', 'the reference', false],
      ['GET', '/health', 'liveness', false],
      ['GET', '/undocumented/deep', '', false],
    ],
  );
  // Not given for real: still inert, and its name says where it came from.
  const deps = inertDependencies<Deps & { readonly limit: number }>('gw', { limit: 7 });
  assert.throws(() => deps.repo.find('x'), /gw\.repo\.find was called/);
});
