import { ConfigError, envOptional, envUrl } from '@albergue/platform';
import type { ServiceDeclaration } from '@albergue/messaging';
import { declaredSubscribersOf } from '@albergue/messaging';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { BrokerDeliveryFacts } from './adapters/broker/broker-delivery-facts.js';
import { AUDIT_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgAuditStore } from './adapters/postgres/pg-audit-store.js';
import type { DeliveryFacts } from './application/ports.js';
import { recordOnAnyEvent } from './application/record-event.js';
import { auditDeclaration } from './declaration.js';
import { httpApi } from './http.js';

/** The development admin token of the embedded broker (refused with NODE_ENV=production). */
const DEV_BROKER_ADMIN_TOKEN = 'albergue-dev-admin-token';

export interface AuditServiceOptions extends Partial<Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>> {
  /** The broker's HTTP API and admin token (default BROKER_URL, BROKER_ADMIN_TOKEN); null: none to ask (`BROKER_URL=off`). */
  readonly broker?: { readonly url: string; readonly adminToken: string } | null;
  /** Where delivery facts come from (default: the broker's API); tests may pass another. */
  readonly deliveries?: DeliveryFacts;
  /**
   * The declarations of the system the composition runs: each event's subscribers are taken from
   * them. Without them, the broker answers for the subscribers it knows.
   */
  readonly declarations?: readonly ServiceDeclaration[];
}

/**
 * Broker URL and token from the environment; the development token only outside production.
 * `BROKER_URL=off` (a system on an external MQTT broker without the broker service's API): null.
 */
export function brokerFromEnv(env: Record<string, string | undefined> = process.env): { url: string; adminToken: string } | null {
  if (env.BROKER_URL === 'off') return null;
  const url = envUrl('BROKER_URL', ['http:', 'https:'], env) ?? 'http://127.0.0.1:8090';
  const token = envOptional('BROKER_ADMIN_TOKEN', env);
  if (env.NODE_ENV === 'production' && (token === undefined || token === DEV_BROKER_ADMIN_TOKEN))
    throw new ConfigError('audit: set BROKER_ADMIN_TOKEN (the development token is refused with NODE_ENV=production)');
  return { url, adminToken: token ?? DEV_BROKER_ADMIN_TOKEN };
}

/** Without a broker API every lookup fails with the reason, and flows answer with delivery "unknown". */
const NO_BROKER: DeliveryFacts = {
  lookup: (events) =>
    events.length === 0
      ? Promise.resolve({ deliveries: new Map(), breakers: [] })
      : Promise.reject(new Error('no broker API to ask (BROKER_URL=off)')),
};

/** The audit service wired: its trail in its own database, the wildcard subscriber, the queries. */
export async function createAuditService(o: AuditServiceOptions = {}): Promise<ServiceRuntime> {
  const broker = o.broker === undefined ? brokerFromEnv(o.env ?? process.env) : o.broker;
  const rt = await createServiceRuntime({
    ...o,
    declaration: auditDeclaration,
    defaultPort: 8106,
    migrations: AUDIT_MIGRATIONS,
    description: 'The append-only trail of every albergue event, and each flow with its delivery state.',
  });
  const store = new PgAuditStore(rt.db);
  rt.onAll('recordOnAnyEvent', async (ctx, tx) => {
    await recordOnAnyEvent({ store }, ctx, tx);
  });
  const declarations = o.declarations;
  await rt.http.register(
    httpApi({
      store,
      deliveries: o.deliveries ?? (broker ? new BrokerDeliveryFacts(broker) : NO_BROKER),
      ...(declarations
        ? { subscribersOf: (topic: string) => [...new Set(declaredSubscribersOf(declarations, topic).map((s) => s.subscriber))] }
        : {}),
      // With BROKER_URL=off there is nobody to ask by design: the flow says so, the log stays quiet.
      ...(broker !== null
        ? { onDeliveryError: (err: unknown) => rt.logger.warn({ err }, 'delivery facts unavailable; flows answer with delivery unknown') }
        : {}),
    }),
  );
  return rt;
}
