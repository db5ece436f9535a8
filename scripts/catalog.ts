// `npm run catalog`: writes docs/CATALOG.md and docs/asyncapi.yaml from the event definitions and the
// declarations of the services the system runs (scripts/declarations.ts), plus what the code says
// about HTTP routes (each service's whole HTTP API, registered with inert dependencies), Redis keys,
// Postgres tables and broker accounts. `npm run catalog -- --check` only compares (exit 1 on drift).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { BROKER_REDIS_KEYS, clientIdPrefix, grantsFromDeclarations } from '@albergue/broker';
import type { CatalogInput, HttpRoute } from '@albergue/catalog';
import { generateCatalog, httpRoutesOf, inertDependencies } from '@albergue/catalog';
import { ALL_EVENTS, eventSchema, schemaFileName } from '@albergue/events';
import { SAMPLE_PAYLOADS, SCHEMA_DIR } from '@albergue/events/node';
import { httpApi as auditHttp } from '@albergue/audit/http';
import { httpApi as bookingHttp } from '@albergue/booking/http';
import { httpApi as documentsHttp } from '@albergue/documents/http';
import { httpApi as gatewayHttp } from '@albergue/gateway/http';
import { httpApi as locationHttp } from '@albergue/location/http';
import { LEDGER_REDIS_KEYS } from '@albergue/messaging';
import { httpApi as notificationsHttp } from '@albergue/notifications/http';
import { httpApi as operationsHttp } from '@albergue/operations/http';
import type { ServiceDeclaration } from '@albergue/messaging';
import { OUTBOX_MIGRATIONS, SCHEMA_MIGRATIONS_TABLE } from '@albergue/outbox';
import { httpApi as paymentHttp } from '@albergue/payment/http';
import { createMetricsRegistry } from '@albergue/platform';
import { IDEMPOTENCY_MIGRATION } from '@albergue/runtime';
import { SYSTEM_DECLARATIONS } from './declarations.js';
import { VALUE_STREAMS } from './value-streams.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const DOCS_DIR = join(root, 'docs');
export const CATALOG_FILE = join(DOCS_DIR, 'CATALOG.md');
export const ASYNCAPI_FILE = join(DOCS_DIR, 'asyncapi.yaml');

/** An HTTP API that is a whole app of its own (not run by the service runtime): the gateway's. */
interface StandaloneHttpApi {
  readonly standalone: FastifyPluginAsync;
}

/**
 * Each declared service's whole HTTP API (its `src/http.ts`, the plugin its service.ts registers).
 * A service added to SYSTEM_DECLARATIONS adds its entry here; the catalog test names any missing.
 */
export const SERVICE_HTTP_APIS: Readonly<Record<string, () => FastifyPluginAsync | StandaloneHttpApi>> = {
  audit: () => auditHttp(inertDependencies('audit')),
  booking: () => bookingHttp(inertDependencies('booking')),
  documents: () => documentsHttp(inertDependencies('documents')),
  // The gateway's own routes and its catch-all (its policy table says which routes it opens); its
  // plugin creates its counters and the upstream client's timeouts while registering.
  gateway: () => ({
    standalone: gatewayHttp(
      inertDependencies('gateway', { metrics: createMetricsRegistry('gateway', { defaultMetrics: false }), upstreamTimeoutMs: 30_000 }),
    ),
  }),
  location: () => locationHttp(inertDependencies('location')),
  notifications: () => notificationsHttp(inertDependencies('notifications')),
  operations: () => operationsHttp(inertDependencies('operations')),
  payment: () => paymentHttp(inertDependencies('payment')),
};

/** The input of the system's catalog for `declarations` (the test passes altered ones). */
export async function systemCatalogInput(declarations: readonly ServiceDeclaration[] = SYSTEM_DECLARATIONS): Promise<CatalogInput> {
  const http: Record<string, readonly HttpRoute[]> = {};
  for (const d of declarations) {
    const api = SERVICE_HTTP_APIS[d.service];
    if (!api) continue;
    const plugin = api();
    http[d.service] =
      typeof plugin === 'function'
        ? await httpRoutesOf(d.service, plugin)
        : await httpRoutesOf(d.service, plugin.standalone, { standalone: true });
  }
  return {
    events: ALL_EVENTS,
    declarations,
    samplePayloads: SAMPLE_PAYLOADS,
    schemaOf: eventSchema,
    schemaLink: (def) =>
      relative(DOCS_DIR, join(SCHEMA_DIR, schemaFileName(def)))
        .split('\\')
        .join('/'),
    http,
    streams: VALUE_STREAMS,
    redisKeys: [
      ...Object.values(LEDGER_REDIS_KEYS).map((k) => ({ ...k, owner: '@albergue/messaging' })),
      ...Object.values(BROKER_REDIS_KEYS).map((k) => ({ ...k, owner: '@albergue/broker' })),
    ],
    tables: [
      ...OUTBOX_MIGRATIONS.map((m) => ({ owner: '@albergue/outbox', origin: `migration ${m.version} (${m.name})`, sql: m.sql })),
      {
        owner: '@albergue/runtime',
        origin: `migration ${IDEMPOTENCY_MIGRATION.version} (${IDEMPOTENCY_MIGRATION.name})`,
        sql: IDEMPOTENCY_MIGRATION.sql,
      },
      { owner: '@albergue/outbox', origin: 'the migration runner', sql: SCHEMA_MIGRATIONS_TABLE },
    ],
    accounts: grantsFromDeclarations(declarations).map((g) => ({ ...g, clientIdPrefix: clientIdPrefix(g.username) })),
    server: {
      host: '127.0.0.1:1884',
      description:
        'The broker of `npm start` (Aedes; BROKER_MQTT_PORT). With MQTT_URL the services use any MQTT 3.1.1/5 broker ' +
        '(Mosquitto configured by `npm run broker:mosquitto-config`).',
    },
  };
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const generated = generateCatalog(await systemCatalogInput());
  if (generated.problems.length > 0) {
    console.error(`The declarations contradict the event definitions:\n- ${generated.problems.join('\n- ')}`);
    process.exit(1);
  }
  const files: [string, string][] = [
    [CATALOG_FILE, generated.markdown],
    [ASYNCAPI_FILE, generated.asyncapi],
  ];
  let stale = 0;
  for (const [file, text] of files) {
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    stale++;
    if (check) console.error(`${relative(root, file)} is stale: run npm run catalog`);
    else {
      writeFileSync(file, text);
      console.log(`wrote ${relative(root, file)}`);
    }
  }
  if (check && stale > 0) process.exit(1);
  if (stale === 0) console.log('docs/CATALOG.md and docs/asyncapi.yaml are up to date');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
