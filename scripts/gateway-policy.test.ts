// The gateway's route policy against every declared service's HTTP API, without starting anything
// (the services' routes as the catalog lists them): every public route of a service has exactly one
// policy entry, and no entry names a route no service has. services/gateway/src/system.test.ts checks
// the same on running services through the combined OpenAPI; this one also covers a service the
// system test does not compose yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, RoutePolicy, parsePublicPath } from '@albergue/gateway';
import { systemCatalogInput } from './catalog.js';
import { SYSTEM_DECLARATIONS } from './declarations.js';

const input = await systemCatalogInput();

/** `/bookings/:booking_id` of context booking → `/api/booking/bookings/{booking_id}`. */
const publicPath = (context: string, path: string) => `/api/${context}${path.replace(/:([a-z_][a-z0-9_]*)/g, '{$1}')}`;

const serviceRoutes = SYSTEM_DECLARATIONS.filter((d) => d.service !== 'gateway').flatMap((d) =>
  (input.http[d.service] ?? []).filter((r) => !r.operational).map((r) => ({ method: r.method, path: publicPath(d.context, r.path) })),
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
  // Audit and operations have no `http.ts` the catalog registers yet (scripts/catalog.ts SERVICE_HTTP_APIS), so
  // their entries cannot be checked here; services/gateway and tests/e2e/whole-system.test.ts call them through
  // the gateway (which routes /api/<service>/…). Exactly these two: a third service without a catalog API fails below.
  const uncatalogued = SYSTEM_DECLARATIONS.filter((d) => d.service !== 'gateway' && input.http[d.service] === undefined).map(
    (d) => d.service,
  );
  assert.deepEqual(uncatalogued.sort(), ['audit', 'operations']);
  const stale = DEFAULT_POLICY.filter((e) => !(uncatalogued as readonly string[]).includes(e.path.split('/')[2]!))
    .map((e) => `${e.method} ${e.path}`)
    .filter((e) => !served.has(e));
  assert.deepEqual(stale, [], 'a policy entry without a route (renamed or removed): fix or remove it');
});
