// The gateway in front of a recording upstream: what reaches a service (exact path, bytes, headers,
// signature), what never does (spoofed headers, credentials, refused requests), correlation ids,
// rate limits shared by two instances on one Redis, and RateLimitExceeded once per key per window.
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { parseEnvelope } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import { deleteNamespace, startAedes } from '@albergue/messaging/testing';
import type { TestAedes } from '@albergue/messaging/testing';
import { GATEWAY_SIGNATURE_HEADER, verifyGatewaySignature } from '@albergue/platform/gateway-signature';
import { expectProblem, freePort, uniqueName, waitFor } from '@albergue/platform/testing';
import { keyHashOf, sha256Hex } from './application/keys.js';
import type { GatewayRuntime } from './service.js';
import { createGatewayService } from './service.js';
import { ATTACKER_SPELLINGS } from './testing/attacker-spellings.js';
import { rawRequest } from './testing/raw-request.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'gateway-test-shared-secret-0123456789abcdef';
const KEYS = {
  guest: 'test-guest-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  bound: 'test-bound-guest-key-bbbbbbbbbbbbbbbbbbbbbbbb',
  hostel: 'test-hostel-key-cccccccccccccccccccccccccccc',
  operator: 'test-operator-key-dddddddddddddddddddddddddd',
  limited: 'test-limited-key-eeeeeeeeeeeeeeeeeeeeeeeeeee',
};
const GATEWAY_KEYS = JSON.stringify([
  { client_id: 'guest-app', key_hash: keyHashOf(KEYS.guest), scopes: ['guest'] },
  { client_id: 'ana', key_hash: keyHashOf(KEYS.bound), scopes: ['guest'], guest_id: 'g-ana' },
  { client_id: 'hostel-app', key_hash: keyHashOf(KEYS.hostel), scopes: ['hostel'] },
  { client_id: 'ops', key_hash: keyHashOf(KEYS.operator), scopes: ['operator'] },
  { client_id: 'limited', key_hash: keyHashOf(KEYS.limited), scopes: ['guest'] },
]);

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

describe('the gateway in front of a service', () => {
  const seen: Seen[] = [];
  let upstream: Server;
  let upstreamUrl: string;
  let broker: TestAedes;
  const events: EventEnvelope[] = [];
  let observer: mqtt.MqttClient;
  const gateways: GatewayRuntime[] = [];
  const urls: string[] = [];
  const prefix = `${uniqueName('gateway_it')}:`;

  before(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'x-upstream': 'yes' });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const addr = upstream.address();
    upstreamUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    broker = await startAedes();
    observer = await mqtt.connectAsync(broker.url, { clientId: uniqueName('observer'), clean: true });
    observer.on('message', (_t, payload) => {
      const r = parseEnvelope(payload.toString());
      if (r.ok) events.push(r.event);
    });
    await observer.subscribeAsync('albergue/gateway/#', { qos: 1 });
    const closed = `http://127.0.0.1:${await freePort()}`;
    // Two instances on one Redis: the bucket of a key and route is shared.
    for (let i = 0; i < 2; i++) {
      const gw = await createGatewayService({
        env: {
          GATEWAY_KEYS,
          GATEWAY_SHARED_SECRET: SECRET,
          REDIS_URL: REDIS,
          GATEWAY_RATE_LIMIT: '10',
          GATEWAY_RATE_WINDOW_S: '3600',
          GATEWAY_IP_RATE_LIMIT: '1000',
          INSTANCE_ID: String(i),
        },
        config: {
          port: 0,
          mqttUrl: broker.url,
          upstreams: { booking: upstreamUrl, location: upstreamUrl, payment: upstreamUrl, notifications: upstreamUrl, documents: closed },
        },
        redisPrefix: prefix,
      });
      gateways.push(gw);
      urls.push(await gw.start());
    }
  });

  after(async () => {
    for (const gw of gateways) await gw.close();
    await observer?.endAsync();
    await broker?.close();
    await new Promise<void>((r) => upstream.close(() => r()));
    await deleteNamespace(REDIS, prefix);
  });

  const call = (path: string, init: RequestInit & { key?: string; gateway?: number } = {}) => {
    const { key, gateway, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key !== undefined) headers.set('authorization', `Bearer ${key}`);
    return fetch(`${urls[gateway ?? 0]}${path}`, { ...rest, headers, signal: AbortSignal.timeout(10_000) });
  };
  const problemOf = async (res: Response, status: number, code: string) =>
    expectProblem({ statusCode: res.status, headers: Object.fromEntries(res.headers), body: await res.text() }, status, code);

  test('forwards exactly the authorised path and the body bytes, signed, with the spoofable headers replaced', async () => {
    seen.length = 0;
    const body = '{"guest":{"guest_id":"g-1"},  "beds":1}';
    const res = await rawRequest(
      urls[0]!,
      '/api/booking/bookings?dry=1&x=%2F',
      {
        authorization: `Bearer ${KEYS.guest}`,
        'content-type': 'application/json',
        'idempotency-key': 'k-1',
        'x-albergue-client-id': 'ops',
        'x-albergue-scopes': 'operator',
        'x-albergue-signature': 'forged',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=6.6.6.6',
        'x-api-key': KEYS.guest,
        cookie: 'session=1',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
      },
      'POST',
      body,
    );
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(seen.length, 1);
    const s = seen[0]!;
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/bookings?dry=1&x=%2F');
    assert.equal(s.body.toString(), body, 'the body bytes as the client sent them');
    assert.equal(s.headers['idempotency-key'], 'k-1');
    assert.equal(s.headers['x-albergue-client-id'], 'guest-app');
    assert.equal(s.headers['x-albergue-scopes'], 'guest');
    assert.equal(s.headers['x-forwarded-for'], '127.0.0.1');
    for (const h of ['x-forwarded-host', 'forwarded', 'authorization', 'x-api-key', 'cookie', 'x-drop-me'])
      assert.equal(s.headers[h], undefined, `${h} must not reach the service`);
    const check = verifyGatewaySignature(
      SECRET,
      s.headers[GATEWAY_SIGNATURE_HEADER] as string,
      {
        method: 'POST',
        target: s.url,
        clientId: 'guest-app',
        scopes: 'guest',
      },
      Date.now(),
    );
    assert.ok(check.ok, JSON.stringify(check));
    assert.equal(check.bodySha256, sha256Hex(body));
  });

  test('x-correlation-id: a valid one is kept (lower case), anything else is replaced by a new UUIDv7; both directions', async () => {
    seen.length = 0;
    const id = '0190A5B8-1C2D-7E3F-8A9B-0C1D2E3F4A5B';
    const kept = await call('/api/location/albergues', { key: KEYS.guest, headers: { 'x-correlation-id': id } });
    assert.equal(kept.headers.get('x-correlation-id'), id.toLowerCase());
    assert.equal(seen[0]!.headers['x-correlation-id'], id.toLowerCase());
    const replaced = await call('/api/location/albergues', { key: KEYS.guest, headers: { 'x-correlation-id': 'not-a-uuid' } });
    const generated = replaced.headers.get('x-correlation-id') ?? '';
    assert.match(generated, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(seen.at(-1)!.headers['x-correlation-id'], generated);
    const none = await call('/api/location/albergues', { key: KEYS.guest });
    assert.match(none.headers.get('x-correlation-id') ?? '', /^[0-9a-f-]{36}$/);
    // Refusals carry it too.
    const refused = await call('/api/location/albergues', { headers: { 'x-correlation-id': id } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('x-correlation-id'), id.toLowerCase());
  });

  test('no key, a wrong key, a short key, two different keys → 401; the wrong scope → 403; nothing reaches the service', async () => {
    seen.length = 0;
    const target = '/api/booking/guests/g-1/bookings';
    const none = await call(target);
    await problemOf(none, 401, 'unauthorized');
    assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
    await problemOf(await call(target, { key: 'x'.repeat(40) }), 401, 'unauthorized');
    await problemOf(await call(target, { key: 'short' }), 401, 'unauthorized');
    await problemOf(
      await call(target, { headers: { 'x-api-key': KEYS.guest, authorization: `Bearer ${KEYS.operator}` } }),
      401,
      'unauthorized',
    );
    await problemOf(await call(target, { headers: { authorization: `Basic ${KEYS.guest}` } }), 401, 'unauthorized');
    await problemOf(await call(target, { key: KEYS.hostel }), 403, 'insufficient_scope');
    await problemOf(await call('/api/payment/refunds', { key: KEYS.guest }), 403, 'insufficient_scope');
    await problemOf(await call('/api/location/albergues', { method: 'POST', key: KEYS.guest, body: '{}' }), 403, 'insufficient_scope');
    assert.equal(seen.length, 0);
    // HEAD is decided as GET.
    assert.equal((await call(target, { method: 'HEAD', key: KEYS.hostel })).status, 403);
    assert.equal((await call(target, { method: 'HEAD', key: KEYS.guest })).status, 200);
    assert.equal(seen.at(-1)?.method, 'HEAD');
    // x-api-key alone works as well as the bearer.
    assert.equal((await call(target, { headers: { 'x-api-key': KEYS.guest } })).status, 200);
  });

  test('deny by default: a route without a policy entry is 404 (405 with Allow for another method), for every key', async () => {
    seen.length = 0;
    await problemOf(await call('/api/booking/admin/reset', { method: 'POST', key: KEYS.operator }), 404, 'not_found');
    await problemOf(await call('/api/unknown/things', { key: KEYS.operator }), 404, 'not_found');
    const wrongMethod = await call('/api/booking/bookings/b-1', { method: 'DELETE', key: KEYS.operator });
    await problemOf(wrongMethod, 405, 'method_not_allowed');
    assert.equal(wrongMethod.headers.get('allow'), 'GET');
    assert.equal(seen.length, 0);
  });

  test('attacker spellings are refused (400) with any key, and never reach the service', async () => {
    seen.length = 0;
    for (const target of ATTACKER_SPELLINGS) {
      for (const key of [undefined, KEYS.hostel, KEYS.operator]) {
        const res = await rawRequest(urls[0]!, target, key ? { authorization: `Bearer ${key}` } : {});
        assert.ok(res.status === 400 || res.status === 404, `${target} → ${res.status}`);
      }
    }
    for (const target of ['/API/booking/guests/g-1/bookings', '/api/booking/guests/g-1/bookings/']) {
      const res = await rawRequest(urls[0]!, target, { authorization: `Bearer ${KEYS.operator}` });
      assert.ok(res.status === 404 || res.status === 400, `${target} → ${res.status}`);
    }
    assert.equal(seen.length, 0, `reached the service: ${seen.map((s) => s.url).join(', ')}`);
  });

  test('a guest key bound to a guest reads only that guest (operators read any)', async () => {
    seen.length = 0;
    assert.equal((await call('/api/booking/guests/g-ana/bookings', { key: KEYS.bound })).status, 200);
    await problemOf(await call('/api/booking/guests/g-other/bookings', { key: KEYS.bound }), 403, 'not_your_guest');
    assert.equal((await call('/api/booking/guests/g-other/bookings', { key: KEYS.operator })).status, 200);
    assert.equal(seen.length, 2);
    // A guest named in the query (notifications' list) is bound the same way, in every spelling of the name.
    seen.length = 0;
    assert.equal((await call('/api/notifications/notifications?guest_id=g-ana', { key: KEYS.bound })).status, 200);
    for (const query of ['guest_id=g-other', 'guest_id=g-ana&guest_id=g-other', 'guest%5Fid=g-other', 'limit=5&guest_id=g%2Dother'])
      await problemOf(await call(`/api/notifications/notifications?${query}`, { key: KEYS.bound }), 403, 'not_your_guest');
    assert.equal((await call('/api/notifications/notifications?guest_id=g-other', { key: KEYS.operator })).status, 200);
    assert.deepEqual(
      seen.map((r) => r.url),
      ['/notifications?guest_id=g-ana', '/notifications?guest_id=g-other'],
    );
  });

  test('a burst beyond the limit → 429 with Retry-After and RateLimit-*; two instances share the bucket; reported once', async () => {
    const route = '/api/booking/bookings/b-burst';
    const answers: Response[] = [];
    // 30 requests spread over both instances: the key's bucket on this route holds 10.
    for (let i = 0; i < 30; i++) answers.push(await call(route, { key: KEYS.limited, gateway: i % 2 }));
    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    assert.equal(ok.length, 10, 'the sum across both instances respects the limit');
    assert.equal(limited.length, 20);
    assert.equal(ok[0]!.headers.get('ratelimit-limit'), '10');
    assert.equal(ok[0]!.headers.get('ratelimit-remaining'), '9');
    assert.equal(ok[9]!.headers.get('ratelimit-remaining'), '0');
    const first = limited[0]!;
    await problemOf(first.clone(), 429, 'rate_limited');
    assert.ok(Number(first.headers.get('retry-after')) >= 1, 'Retry-After');
    assert.equal(first.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(first.headers.get('ratelimit-reset')) > 0);
    // Another route of the same key has its own bucket.
    assert.equal((await call('/api/booking/bookings/b-burst/cancel', { method: 'POST', key: KEYS.limited, body: '{}' })).status, 200);
    // One RateLimitExceeded for the key in the window, whatever the number of refusals and instances.
    const hash = sha256Hex(KEYS.limited);
    const mine = () =>
      events.filter((e) => e.event_type === 'RateLimitExceeded' && (e.payload as { client_key_hash: string }).client_key_hash === hash);
    await waitFor(() => mine().length > 0, { message: 'RateLimitExceeded on MQTT' });
    // More refusals, then a marker event from another key: everything published before it has arrived.
    for (let i = 0; i < 5; i++) assert.equal((await call(route, { key: KEYS.limited, gateway: i % 2 })).status, 429);
    const marker = KEYS.bound;
    for (let i = 0; i < 11; i++) await call('/api/booking/guests/g-ana/bookings', { key: marker });
    await waitFor(() => events.some((e) => (e.payload as { client_key_hash: string }).client_key_hash === sha256Hex(marker)), {
      message: 'the marker key reported',
    });
    assert.equal(mine().length, 1);
    const p = mine()[0]!.payload as { route: string; limit: number; window_s: number; client_key_hash: string };
    assert.deepEqual(
      { route: p.route, limit: p.limit, window_s: p.window_s },
      { route: 'GET /api/booking/bookings/{booking_id}', limit: 10, window_s: 3600 },
    );
    assert.ok(!JSON.stringify(mine()[0]).includes(KEYS.limited), 'the key itself is never published');
  });

  test('requests without a valid key are limited per IP before authentication', async () => {
    const gw = await createGatewayService({
      env: { GATEWAY_KEYS, GATEWAY_IP_RATE_LIMIT: '3', GATEWAY_RATE_WINDOW_S: '3600' },
      config: { port: 0, mqttUrl: broker.url, upstreams: { booking: upstreamUrl } },
    });
    const url = await gw.start();
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await fetch(`${url}/api/booking/bookings/b1`, { headers: { 'x-api-key': `wrong-${'k'.repeat(40)}` } })).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      // A valid key is not held back by its address' refusals.
      assert.equal((await fetch(`${url}/api/booking/bookings/b1`, { headers: { 'x-api-key': KEYS.guest } })).status, 200);
    } finally {
      await gw.close();
    }
  });

  test('the combined OpenAPI survives a service that does not answer (its part missing, with a warning)', async () => {
    const res = await call('/openapi.json');
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { 'x-albergue-warnings'?: string[]; info: { description: string } };
    assert.ok(
      doc['x-albergue-warnings']?.some((w) => w.startsWith('documents')),
      JSON.stringify(doc['x-albergue-warnings']),
    );
    assert.match(doc.info.description, /Incomplete/);
    // The reference page is served from the package (no CDN).
    const page = await call('/docs/');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)[a-z]/i, 'no external script or style');
    assert.equal((await call('/docs/static/swagger-ui-bundle.js')).status, 200);
    assert.equal((await call('/docs/json')).status, 200);
  });

  test('a service that does not answer is a 502 problem, at once (no retries)', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const gw = await createGatewayService({
      env: { GATEWAY_KEYS },
      config: { port: 0, mqttUrl: broker.url, upstreams: { booking: closed } },
    });
    const url = await gw.start();
    try {
      const started = Date.now();
      const res = await fetch(`${url}/api/booking/bookings/b1`, { headers: { 'x-api-key': KEYS.guest } });
      await problemOf(res, 502, 'upstream_unavailable');
      assert.ok(Date.now() - started < 3_000, 'answered without retrying');
    } finally {
      await gw.close();
    }
  });
});
