import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { createLogger } from '@albergue/platform';
import { DEFAULT_POLICY, RoutePolicy } from '../../domain/policy.js';
import { CombinedOpenApi, combineOpenApi } from './openapi.js';

const policy = new RoutePolicy(DEFAULT_POLICY);
const doc = (schemaName: string, schema: object, path: string) => ({
  openapi: '3.0.3',
  paths: {
    [path]: {
      get: { responses: { 200: { content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaName}` } } } } } },
    },
  },
  components: { schemas: { [schemaName]: schema, Shared: { type: 'string' } } },
});

test('paths go under /api/<context>; a clashing component is renamed with its references; equal ones are shared', () => {
  const combined = combineOpenApi(
    [
      { context: 'booking', doc: doc('View', { type: 'object', properties: { a: { type: 'string' } } }, '/bookings/{booking_id}') },
      { context: 'payment', doc: doc('View', { type: 'object', properties: { b: { type: 'string' } } }, '/payments/{payment_id}') },
    ],
    policy,
    [],
  ) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  };
  assert.deepEqual(Object.keys(combined.paths).sort(), ['/api/booking/bookings/{booking_id}', '/api/payment/payments/{payment_id}']);
  assert.ok(combined.components.schemas.View);
  assert.ok(combined.components.schemas.PaymentView, 'the second View is renamed');
  assert.ok(combined.components.schemas.Shared);
  const ref = JSON.stringify(combined.paths['/api/payment/payments/{payment_id}']);
  assert.match(ref, /#\/components\/schemas\/PaymentView/);
  const op = combined.paths['/api/booking/bookings/{booking_id}']!.get!;
  assert.deepEqual(op['x-albergue-scopes'], ['guest', 'operator']);
  assert.ok(
    (op.responses as Record<string, unknown>)['401'] &&
      (op.responses as Record<string, unknown>)['403'] &&
      (op.responses as Record<string, unknown>)['429'],
  );
  assert.ok(combined.components.securitySchemes.ApiKeyHeader && combined.components.securitySchemes.BearerKey);
});

test('cached, refreshed when old; a failing service is left out with a warning, and retried sooner', async () => {
  let now = 0;
  let calls = 0;
  let down = true;
  const api = new CombinedOpenApi({
    sources: [
      { context: 'booking', url: 'http://booking' },
      { context: 'payment', url: 'http://payment' },
    ],
    policy,
    logger: createLogger('openapi-test'),
    maxAgeMs: 60_000,
    now: () => now,
    fetchJson: (url) => {
      calls++;
      if (url.startsWith('http://payment') && down) return Promise.reject(new Error('ECONNREFUSED'));
      return Promise.resolve(
        doc('X', { type: 'string' }, url.startsWith('http://payment') ? '/payments/{payment_id}' : '/bookings/{booking_id}'),
      );
    },
  });
  const first = (await api.get()) as { paths: object; 'x-albergue-warnings'?: string[] };
  assert.deepEqual(Object.keys(first.paths), ['/api/booking/bookings/{booking_id}']);
  assert.match(first['x-albergue-warnings']![0]!, /^payment .*ECONNREFUSED/);
  await api.get();
  assert.equal(calls, 2, 'cached');
  down = false;
  now = 2_500; // an incomplete document is fetched again after 2 s, not 60
  const second = (await api.get()) as { paths: object; 'x-albergue-warnings'?: string[] };
  assert.equal(Object.keys(second.paths).length, 2);
  assert.equal(second['x-albergue-warnings'], undefined);
  now = 30_000;
  await api.get();
  assert.equal(calls, 4, 'a complete document is kept for maxAgeMs');
});
