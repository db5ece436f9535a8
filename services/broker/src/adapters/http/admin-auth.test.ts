// Issue 9.1: authorisation is decided on the route that matched, deny by default. Every route is
// taken from the server itself (Fastify's onRoute), never from a hand-kept list, and tried with
// the attacker's spellings of its path: none may reach a handler without the admin token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { createLogger } from '@albergue/platform';
import { waitFor } from '@albergue/platform/testing';
import type { HttpApiDeps } from './deps.js';
import { buildHttpApi } from './server.js';
import type { BrokerHttpApi, RouteInfo } from './server.js';
import { rawRequest } from './raw-http.js';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, asService, closeMqtt, connectMqtt, startTestBroker } from '../../testing/harness.js';
import { bookingReserved } from '../../testing/fixtures.js';

/** Deps that record every use: a handler that runs touches them, the auth hook never does. */
function spyDeps(): { deps: HttpApiDeps; touched: string[] } {
  const touched: string[] = [];
  const spy = (path: string): unknown =>
    new Proxy(function spied() {}, {
      get: (_t, prop) => {
        if (prop === 'then' || typeof prop === 'symbol') return undefined;
        touched.push(`${path}.${prop}`);
        return spy(`${path}.${prop}`);
      },
      apply: () => {
        touched.push(`${path}()`);
        return Promise.resolve(spy(`${path}()`));
      },
    });
  const deps = new Proxy({ adminToken: ADMIN_TOKEN } as unknown as HttpApiDeps, {
    get: (target, prop) => {
      if (prop === 'adminToken' || prop === 'bodyLimit') return (target as unknown as Record<string, unknown>)[prop];
      if (typeof prop === 'symbol' || prop === 'then') return undefined;
      touched.push(String(prop));
      return spy(String(prop));
    },
  });
  return { deps, touched };
}

/** The attacker's spellings of a path that a lenient router might still match. */
function variants(path: string): string[] {
  const segs = path.split('/').slice(1);
  const first = segs[0]!;
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
  return [
    path,
    `/${hex(first[0]!)}${first.slice(1)}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${hex(first[0]!).toUpperCase()}${first.slice(1)}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${[...first].map(hex).join('')}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${segs.map((s) => s.replace(/^./, (c) => hex(c))).join('/')}`,
    `/${segs.join('%2F')}`,
    `/${segs.join('%2f')}`,
    path.toUpperCase(),
    `/${first.toUpperCase()}/${segs.slice(1).join('/')}`.replace(/\/$/, ''),
    `/${path}`,
    path.replace(/\//g, '//'),
    `${path}/`,
    `${path}//`,
    `/x/..${path}`,
    `/./${path.slice(1)}`,
    `${path.replace(/\/[^/]+$/, '')}/x/..${path.slice(path.lastIndexOf('/'))}`,
    `/x/%2e%2e${path}`,
    `/x/%2E%2E${path}`,
    path.replace(/\//g, '\\'),
    `${path};x=1`,
    `${path}%00`,
    `${path}%20`,
    `${path}?token=${ADMIN_TOKEN}`,
    `${path}#frag`,
  ];
}

const concrete = (url: string) => url.replace(/:[a-z_]+/g, 'albergue.booking.v1.BookingReserved').replace(/\*/g, 'x');

describe('admin routes: decided on the matched route, deny by default', () => {
  let app: BrokerHttpApi;
  let port: number;
  let spied: ReturnType<typeof spyDeps>;
  before(async () => {
    spied = spyDeps();
    app = await buildHttpApi(spied.deps, createLogger('test'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  after(async () => {
    await app.close();
  });

  const routes = (): RouteInfo[] => app.routeTable.filter((r) => !r.url.includes('*'));

  test('the route table comes from the server and only ops routes are public', () => {
    const all = routes();
    assert.ok(all.length >= 20, `routes seen: ${all.length}`);
    assert.ok(
      all.some((r) => r.method === 'HEAD' && r.url === '/api/mqtt/dlq'),
      'HEAD routes of GETs are in the table',
    );
    assert.deepEqual([...new Set(all.filter((r) => r.public).map((r) => r.url))].sort(), ['/docs', '/health', '/metrics', '/openapi.json']);
  });

  test('without a token, with a wrong one or a wrong scheme, no spelling of any admin path reaches a handler', async () => {
    const badAuth: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` },
      { authorization: ADMIN_TOKEN },
      { authorization: 'Bearer ' },
      { 'x-admin-token': ADMIN_TOKEN },
    ];
    let tried = 0;
    for (const route of routes().filter((r) => !r.public)) {
      for (const path of variants(concrete(route.url))) {
        for (const headers of badAuth) {
          spied.touched.length = 0;
          const res = await rawRequest(
            port,
            route.method,
            path,
            headers,
            route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE' ? undefined : '{}',
          );
          tried++;
          assert.deepEqual(spied.touched, [], `${route.method} ${path} ${JSON.stringify(headers)} reached a handler (${res.status})`);
          assert.ok(res.status === 401 || res.status === 404 || res.status === 400, `${route.method} ${path} → ${res.status}`);
          if (path === concrete(route.url)) {
            assert.equal(res.status, 401, `${route.method} ${path} without the right token`);
            assert.equal(res.headers['www-authenticate'], 'Bearer');
            if (route.method !== 'HEAD') assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
          }
        }
      }
    }
    assert.ok(tried > 2000, `requests tried: ${tried}`);
  });

  test('with the right token every admin route is reached (case-insensitive scheme)', async () => {
    for (const route of routes().filter((r) => !r.public)) {
      for (const authorization of [`Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`]) {
        spied.touched.length = 0;
        const res = await rawRequest(
          port,
          route.method,
          concrete(route.url),
          { authorization },
          route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE' ? undefined : '{}',
        );
        assert.ok(
          res.status !== 401 && res.status !== 404,
          `${route.method} ${route.url} with the token → ${res.status} ${res.body.slice(0, 200)}`,
        );
      }
    }
  });

  test('public routes answer without a token', async () => {
    for (const path of ['/health', '/openapi.json', '/docs']) {
      const res = await rawRequest(port, 'GET', path);
      assert.notEqual(res.status, 401, path);
    }
  });
});

describe('against a running broker: a forged publish through an encoded path', () => {
  let broker: RunningBroker;
  let observer: MqttClient;
  const seen: string[] = [];
  before(async () => {
    broker = await startTestBroker({ wsPort: null });
    observer = await connectMqtt(broker.mqttUrl, asService('observer'));
    observer.on('message', (_t, p) => seen.push(p.toString()));
    await observer.subscribeAsync('albergue/#', { qos: 1 });
  });
  after(async () => {
    await closeMqtt(observer);
    await broker.close();
  });

  test('POST /%61pi/mqtt/publish without the token is a 401 and nothing is published; with it, it is', async () => {
    const forged = bookingReserved(666);
    for (const path of [
      '/%61pi/mqtt/publish',
      '/api%2Fmqtt%2Fpublish',
      '/x/../api/mqtt/publish',
      '//api/mqtt/publish',
      '/api/mqtt/publish/',
    ]) {
      const res = await rawRequest(broker.httpPort, 'POST', path, {}, JSON.stringify(forged));
      assert.ok(res.status === 401 || res.status === 404, `${path} → ${res.status}`);
    }
    const marker = bookingReserved(667);
    const ok = await rawRequest(
      broker.httpPort,
      'POST',
      '/%61pi/mqtt/publish',
      { authorization: `Bearer ${ADMIN_TOKEN}` },
      JSON.stringify(marker),
    );
    assert.equal(ok.status, 202, ok.body);
    await waitFor(() => seen.some((s) => s.includes(marker.event_id)), { timeoutMs: 5000, message: 'the authorised publish' });
    assert.equal(seen.filter((s) => s.includes(forged.event_id)).length, 0);
  });
});
