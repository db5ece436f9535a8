// The gateway's route policy against every declared service's HTTP API, without starting anything
// (the services' routes as the catalog lists them): every public route of a service has exactly one
// policy entry, and no entry names a route no service has. services/gateway/src/system.test.ts checks
// the same on running services through the combined OpenAPI; this one also covers a service the
// system test does not compose yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTEXT_PORTS, DEFAULT_POLICY, RoutePolicy, gatewayConfig, parsePublicPath } from '@albergue/gateway';
import { systemCatalogInput } from './catalog.js';
import { SYSTEM_DECLARATIONS } from './declarations.js';

const input = await systemCatalogInput();

/**
 * `/bookings/:booking_id` of service booking → `/api/booking/bookings/{booking_id}`. The gateway's
 * first segment names the upstream, which is the service (its `<SERVICE>_URL`), not the declaration's
 * context: operations (context audit) answers under /api/operations/.
 */
const publicPath = (service: string, path: string) => `/api/${service}${path.replace(/:([a-z_][a-z0-9_]*)/g, '{$1}')}`;

const serviceRoutes = SYSTEM_DECLARATIONS.filter((d) => d.service !== 'gateway').flatMap((d) =>
  (input.http[d.service] ?? []).filter((r) => !r.operational).map((r) => ({ method: r.method, path: publicPath(d.service, r.path) })),
);

/** The routes `table` has no entry of their own for. */
function withoutPolicy(table: typeof DEFAULT_POLICY): string[] {
  const policy = new RoutePolicy(table);
  return serviceRoutes
    .filter((r) => {
      const parsed = parsePublicPath(r.path.replace(/\{[^}]+\}/g, 'x-1'));
      return !parsed.ok || policy.match(r.method, parsed.path)?.entry.path !== r.path;
    })
    .map((r) => `${r.method} ${r.path}`);
}

test('every public route of every declared service has its gateway policy entry', () => {
  assert.ok(serviceRoutes.length >= 20, `${serviceRoutes.length} routes`);
  assert.deepEqual(
    withoutPolicy(DEFAULT_POLICY),
    [],
    'add an entry to DEFAULT_POLICY (services/gateway/src/domain/policy.ts) and say why in docs/gateway.md',
  );
  // Hostile: a table without notifications' entries is caught, route by route.
  assert.deepEqual(withoutPolicy(DEFAULT_POLICY.filter((e) => !e.path.startsWith('/api/notifications/'))).sort(), [
    'DELETE /api/notifications/contacts/{guest_id}',
    'GET /api/notifications/notifications',
  ]);
});

test('every gateway policy entry names a route a declared service serves', () => {
  const served = new Set(serviceRoutes.map((r) => `${r.method} ${r.path}`));
  const stale = DEFAULT_POLICY.map((e) => `${e.method} ${e.path}`).filter((e) => !served.has(e));
  assert.deepEqual(stale, [], 'a policy entry without a route (renamed or removed): fix or remove it');
});

test('every declared service is an upstream of the gateway under its service name, movable by <SERVICE>_URL', () => {
  const services = SYSTEM_DECLARATIONS.map((d) => d.service).filter((s) => s !== 'gateway');
  assert.deepEqual(Object.keys(CONTEXT_PORTS).sort(), [...services].sort());
  const env = { OPERATIONS_URL: 'http://10.0.0.7:9107', AUDIT_URL: 'http://10.0.0.6:9106' };
  const { upstreams } = gatewayConfig(env);
  assert.equal(upstreams.operations, 'http://10.0.0.7:9107');
  assert.equal(upstreams.audit, 'http://10.0.0.6:9106');
  // Operations' declaration says context audit; its routes are still the operations upstream's, and
  // none of them is reachable under /api/audit/ (where the audit service answers).
  const policy = new RoutePolicy(DEFAULT_POLICY);
  const under = (p: string) => {
    const parsed = parsePublicPath(p);
    assert.ok(parsed.ok, p);
    return parsed.path;
  };
  assert.equal(under('/api/operations/operations/occupancy').context, 'operations');
  assert.ok(policy.match('GET', under('/api/operations/operations/occupancy')));
  assert.equal(policy.match('GET', under('/api/audit/operations/occupancy')), undefined);
  assert.equal(policy.match('GET', under('/api/operations/audit/events')), undefined);
  assert.ok(serviceRoutes.some((r) => r.path === '/api/audit/audit/flows/{correlation_id}'));
});
