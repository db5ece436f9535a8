// A service with GATEWAY_SHARED_SECRET (always so in production) answers only requests the gateway
// signed: unsigned, tampered, expired and replayed ones are 401; /health and /metrics stay open.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { createLogger, createMetricsRegistry } from '@albergue/platform';
import {
  EMPTY_BODY_SHA256,
  GATEWAY_CLIENT_HEADER,
  GATEWAY_SCOPES_HEADER,
  GATEWAY_SIGNATURE_HEADER,
  NonceGuard,
  gatewaySecretFromEnv,
  signGatewayRequest,
  verifyGatewaySignature,
} from '@albergue/platform/gateway-signature';
import { expectProblem, freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { RedisLedgerConnection } from '@albergue/messaging';
import { newEventId } from '@albergue/events';
import { buildServiceHttp } from './http.js';
import { serviceConfig } from './config.js';
import { RedisNonceStore } from './redis-nonce-store.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

function signed(
  method: string,
  target: string,
  body = '',
  o: { secret?: string; timestampMs?: number; nonce?: string; clientId?: string; scopes?: string } = {},
) {
  const clientId = o.clientId ?? 'dev-guest';
  const scopes = o.scopes ?? 'guest';
  return {
    [GATEWAY_CLIENT_HEADER]: clientId,
    [GATEWAY_SCOPES_HEADER]: scopes,
    [GATEWAY_SIGNATURE_HEADER]: signGatewayRequest(o.secret ?? SECRET, {
      method,
      target,
      timestampMs: o.timestampMs ?? Date.now(),
      nonce: o.nonce ?? newEventId(),
      clientId,
      scopes,
      bodySha256: body === '' ? EMPTY_BODY_SHA256 : createHash('sha256').update(body).digest('hex'),
    }),
  };
}

describe('services refuse requests that did not come through the gateway', () => {
  let app: FastifyInstance;
  let seen: { client?: unknown; body?: unknown }[] = [];

  before(async () => {
    const logger = createLogger('sigtest');
    ({ app } = await buildServiceHttp({
      service: 'sigtest',
      logger,
      metrics: createMetricsRegistry('sigtest'),
      checks: {},
      gatewaySecret: SECRET,
    }));
    app.get('/things/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, (req) => {
      seen.push({ client: req.headers[GATEWAY_CLIENT_HEADER] });
      return { id: (req.params as { id: string }).id };
    });
    app.post('/things', { schema: { body: Type.Object({ n: Type.Integer() }) } }, (req) => {
      seen.push({ body: req.body });
      return { ok: true };
    });
    app.post('/webhook', { config: { gatewaySignature: false } }, () => ({ ok: true }));
    await app.ready();
  });
  after(() => app.close());

  test('an unsigned request is refused with a 401 problem; nothing runs', async () => {
    seen = [];
    const res = await app.inject({ method: 'GET', url: '/things/1' });
    expectProblem({ statusCode: res.statusCode, headers: res.headers, body: res.body }, 401, 'gateway_signature_required');
    const post = await app.inject({ method: 'POST', url: '/things', payload: { n: 1 } });
    assert.equal(post.statusCode, 401);
    // Unknown routes too: a caller without the signature learns nothing about what exists.
    assert.equal((await app.inject({ method: 'GET', url: '/nothing-here' })).statusCode, 401);
    assert.equal(seen.length, 0);
  });

  test('a signed request is accepted, with the client headers the gateway set', async () => {
    seen = [];
    const res = await app.inject({ method: 'GET', url: '/things/1?x=%20y', headers: signed('GET', '/things/1?x=%20y') });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(seen, [{ client: 'dev-guest' }]);
    const body = JSON.stringify({ n: 2 });
    const post = await app.inject({
      method: 'POST',
      url: '/things',
      payload: body,
      headers: { 'content-type': 'application/json', ...signed('POST', '/things', body) },
    });
    assert.equal(post.statusCode, 200, post.body);
    assert.deepEqual(seen[1], { body: { n: 2 } });
  });

  test('a replayed signature is refused (same nonce), and an expired one', async () => {
    const headers = signed('GET', '/things/2');
    assert.equal((await app.inject({ method: 'GET', url: '/things/2', headers })).statusCode, 200);
    const replay = await app.inject({ method: 'GET', url: '/things/2', headers });
    assert.equal(replay.statusCode, 401);
    assert.match(replay.body, /replay/);
    const old = await app.inject({
      method: 'GET',
      url: '/things/2',
      headers: signed('GET', '/things/2', '', { timestampMs: Date.now() - 31_000 }),
    });
    assert.equal(old.statusCode, 401);
    assert.match(old.body, /expired/);
    const future = await app.inject({
      method: 'GET',
      url: '/things/2',
      headers: signed('GET', '/things/2', '', { timestampMs: Date.now() + 31_000 }),
    });
    assert.equal(future.statusCode, 401);
  });

  test('tampering with the path, method, client, scopes or body breaks the signature', async () => {
    seen = [];
    const base = signed('GET', '/things/3');
    for (const [url, headers] of [
      ['/things/4', signed('GET', '/things/3')],
      ['/things/3?admin=1', signed('GET', '/things/3')],
      ['/things/3', { ...base, [GATEWAY_CLIENT_HEADER]: 'dev-operator' }],
      ['/things/3', { ...signed('GET', '/things/3'), [GATEWAY_SCOPES_HEADER]: 'operator' }],
      ['/things/3', signed('GET', '/things/3', '', { secret: 'another-secret-that-is-long-enough-000000' })],
      ['/things/3', { ...signed('GET', '/things/3'), [GATEWAY_SIGNATURE_HEADER]: 'v1;t=1;n=abcdefgh;b=00;s=x' }],
    ] as const) {
      const res = await app.inject({ method: 'GET', url, headers });
      assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers)}`);
    }
    const delHeaders = signed('GET', '/things/3');
    assert.equal((await app.inject({ method: 'DELETE', url: '/things/3', headers: delHeaders })).statusCode, 401, 'another method');
    const body = JSON.stringify({ n: 5 });
    const post = await app.inject({
      method: 'POST',
      url: '/things',
      payload: JSON.stringify({ n: 6 }),
      headers: { 'content-type': 'application/json', ...signed('POST', '/things', body) },
    });
    assert.equal(post.statusCode, 401, 'another body of the same length');
    assert.match(post.body, /body/);
    assert.equal(seen.length, 0);
  });

  test('/health and /metrics answer unsigned (probes); a route may opt out only by its own config', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/health/' })).statusCode, 401, 'another spelling is another (unknown) route');
    assert.equal((await app.inject({ method: 'POST', url: '/health' })).statusCode, 401, 'only GET is open');
    assert.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/webhook', payload: {} })).statusCode, 200);
  });
});

test('production refuses a missing or short secret; the service config carries it', () => {
  assert.throws(() => gatewaySecretFromEnv({ NODE_ENV: 'production' }), /GATEWAY_SHARED_SECRET is required/);
  assert.throws(() => gatewaySecretFromEnv({ GATEWAY_SHARED_SECRET: 'short' }), /at least 32/);
  assert.equal(gatewaySecretFromEnv({}), undefined, 'development: direct access stays open');
  assert.throws(
    () => serviceConfig('booking', 8102, { NODE_ENV: 'production', DATABASE_URL: 'postgres://h/db', MQTT_PASSWORD: 'p' }),
    /GATEWAY_SHARED_SECRET/,
  );
  assert.equal(serviceConfig('booking', 8102, { GATEWAY_SHARED_SECRET: SECRET }).gatewaySecret, SECRET);
});

test('verification is exact about the header and the nonce guard remembers within its window', () => {
  const header = signGatewayRequest(SECRET, {
    method: 'get',
    target: '/a',
    timestampMs: 1_000_000,
    nonce: 'nonce-0001',
    clientId: 'c',
    scopes: 'guest',
    bodySha256: EMPTY_BODY_SHA256,
  });
  const req = { method: 'GET', target: '/a', clientId: 'c', scopes: 'guest' };
  assert.equal(verifyGatewaySignature(SECRET, header, req, 1_000_000).ok, true);
  assert.equal(verifyGatewaySignature(SECRET, `${header} `, req, 1_000_000).ok, false);
  assert.equal(verifyGatewaySignature(SECRET, header.replace('v1', 'v2'), req, 1_000_000).ok, false);
  assert.equal(verifyGatewaySignature(SECRET, undefined, req, 1_000_000).ok, false);
  const guard = new NonceGuard(1000, 3);
  assert.equal(guard.firstUse('n1', 0), true);
  assert.equal(guard.firstUse('n1', 10), false);
  for (const n of ['n2', 'n3', 'n4', 'n5']) guard.firstUse(n, 20);
  assert.equal(guard.firstUse('n5', 30), false, 'the newest are kept when the guard is full');
});

describe('two instances of a service share the replay guard through Redis', () => {
  const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const ns = `${uniqueName('nonce')}:`;
  let conn: RedisLedgerConnection;
  const instance = async (nonces: RedisNonceStore | undefined): Promise<FastifyInstance> => {
    const { app } = await buildServiceHttp({
      service: 'sigtest',
      logger: createLogger('sigtest'),
      metrics: createMetricsRegistry('sigtest'),
      checks: {},
      gatewaySecret: SECRET,
      ...(nonces ? { nonces } : {}),
    });
    app.get('/things/:id', () => ({ ok: true }));
    await app.ready();
    return app;
  };

  before(() => {
    conn = new RedisLedgerConnection({ url: REDIS_URL });
  });
  after(async () => {
    const keys = await conn.redis.keys(`${ns}*`);
    if (keys.length > 0) await conn.redis.del(...keys);
    await conn.close();
  });

  test('a signature accepted by one instance is a replay at the other; per-process guards would let it pass', async () => {
    const [a, b] = [
      await instance(new RedisNonceStore(conn.redis, { keyPrefix: ns })),
      await instance(new RedisNonceStore(conn.redis, { keyPrefix: ns })),
    ];
    const [c, d] = [await instance(undefined), await instance(undefined)];
    try {
      const headers = signed('GET', '/things/1');
      assert.equal((await a.inject({ method: 'GET', url: '/things/1', headers })).statusCode, 200);
      const replay = await b.inject({ method: 'GET', url: '/things/1', headers });
      expectProblem({ statusCode: replay.statusCode, headers: replay.headers, body: replay.body }, 401, 'gateway_signature_required');
      assert.match(replay.body, /replay/);
      const nonce = /;n=([^;]+);/.exec(headers[GATEWAY_SIGNATURE_HEADER])![1]!;
      assert.ok((await conn.redis.pttl(`${ns}gw:nonce:${nonce}`)) > 30_000, 'kept for twice the replay window');
      // What a shared store prevents: two processes that remember only their own nonces both accept.
      const other = signed('GET', '/things/2');
      assert.equal((await c.inject({ method: 'GET', url: '/things/2', headers: other })).statusCode, 200);
      assert.equal((await d.inject({ method: 'GET', url: '/things/2', headers: other })).statusCode, 200);
    } finally {
      await Promise.all([a, b, c, d].map((app) => app.close()));
    }
  });

  test('Redis not answering: requests are still served, replays to the same instance refused, and a warning says so once', async () => {
    const down = new RedisLedgerConnection({ url: `redis://127.0.0.1:${await freePort()}` });
    down.redis.on('error', () => undefined);
    const warnings: string[] = [];
    const logger = createLogger('sigtest');
    const warn = logger.warn.bind(logger);
    logger.warn = (obj: unknown, msg?: string) => {
      warnings.push(String(msg ?? obj));
      warn(obj as object, msg);
    };
    const app = await instance(new RedisNonceStore(down.redis, { keyPrefix: ns, timeoutMs: 100, logger }));
    try {
      for (const id of ['1', '2']) {
        const headers = signed('GET', `/things/${id}`);
        assert.equal((await app.inject({ method: 'GET', url: `/things/${id}`, headers })).statusCode, 200);
        assert.equal((await app.inject({ method: 'GET', url: `/things/${id}`, headers })).statusCode, 401, 'replayed to the same instance');
      }
      await waitFor(() => warnings.length > 0, { message: 'a warning about Redis' });
      assert.equal(warnings.filter((w) => /Redis unavailable/.test(w)).length, 1, 'once per outage');
    } finally {
      await app.close();
      down.redis.disconnect();
    }
  });
});
