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
