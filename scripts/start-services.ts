// `npm run start:services`: one process per service on real infrastructure — the broker service
// (Aedes, sessions and queues in Redis), then audit, booking, payment, notifications and operations
// (subscribers first, so their persistent sessions exist before anything is published), then location
// and documents, then the gateway. Each service gets its own Postgres database (created if missing).
// A process that exits is restarted with backoff (logged); Ctrl-C / SIGTERM stops every process and
// restarts none, then this one exits.
//
// Everything with a fixed name can be moved, so that two systems (a developer's and a test's) run side
// by side on one machine:
//   PG_URL (postgres://postgres@127.0.0.1:5432), PG_DB_PREFIX (albergue_): database <prefix><service>
//   REDIS_URL (redis://127.0.0.1:6379): the delivery ledger, the gateway's buckets and the broker's
//     sessions. Their keys and the broker's pub/sub channels carry no prefix: a second system needs its
//     own Redis server (a database number is not enough: pub/sub channels span databases).
//   MQTT_URL: with it no broker is started and the services use that broker (Mosquitto/EMQX with the
//     configuration from `npm run broker:mosquitto-config`). Topics and client ids are fixed
//     (albergue/…, albergue-<service>-<INSTANCE_ID>): a second system needs its own broker.
//     Without it: BROKER_MQTT_PORT (1884), BROKER_WS_PORT (8884, `off`), BROKER_HTTP_PORT (8090).
//   BROKER_URL: the broker API audit asks for delivery facts (default: the broker started here; with
//     MQTT_URL and no BROKER_URL, `off`: flows say delivery "unknown" instead of asking a stranger).
//   <SERVICE>_PORT: LOCATION_PORT 8101, BOOKING_PORT 8102, PAYMENT_PORT 8103, DOCUMENTS_PORT 8104,
//     NOTIFICATIONS_PORT 8105, AUDIT_PORT 8106, OPERATIONS_PORT 8107; GATEWAY_PORT 8080 (the gateway
//     is given <CONTEXT>_URL for each of them).
//   SMTP_URL: where mail goes; unset, a mail catcher runs in this process on MAIL_CATCHER_SMTP_PORT
//     (1025), its messages on MAIL_CATCHER_HTTP_PORT (8025).
// Every port is checked before anything starts: one already in use (or given twice) is an error naming
// the variable to set. Anything else in the environment reaches every process as it is.
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CONTEXT_PORTS } from '@albergue/gateway';
import type { MailCatcher } from '@albergue/mail-catcher';
import { startMailCatcher } from '@albergue/mail-catcher';
import { ConfigError, envOptional, envPort, envString, envUrl } from '@albergue/platform';
import { assertPortsFree } from './ports-free.js';
import type { PortUse } from './ports-free.js';
import { Supervisor, stopOnSignals } from './supervisor.js';

// This file runs built, as dist/scripts/start-services.js (`npm run start:services` builds first), and
// starts each service's built main (services/<name>/dist/main.js) with plain node.
const root = fileURLToPath(new URL('../..', import.meta.url));
// Subscribers first (their sessions must exist before anything is published), then the publishers only.
const SERVICE_ORDER = ['audit', 'booking', 'payment', 'notifications', 'operations', 'location', 'documents'] as const;

interface Plan {
  readonly pgBase: string;
  readonly dbPrefix: string;
  readonly redisUrl: string;
  readonly externalMqtt: string | undefined;
  readonly mqttUrl: string;
  readonly brokerHttpPort: number;
  readonly brokerUrl: string;
  readonly services: readonly { readonly name: string; readonly port: number }[];
  readonly gatewayPort: number;
  readonly ports: readonly PortUse[];
}

/** Everything this process will start, from the environment (a bad value is a ConfigError naming it). */
function planFromEnv(env: NodeJS.ProcessEnv): Plan {
  const pgBase = (envUrl('PG_URL', ['postgres:', 'postgresql:'], env) ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
  // Another prefix keeps a second system (a test's) out of a developer's databases.
  const dbPrefix = env.PG_DB_PREFIX ?? 'albergue_';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(dbPrefix)) throw new ConfigError(`PG_DB_PREFIX must match [a-z_][a-z0-9_]{0,40}, got "${dbPrefix}"`);
  const redisUrl = envUrl('REDIS_URL', ['redis:', 'rediss:'], env) ?? 'redis://127.0.0.1:6379';
  const host = envOptional('HOST', env) ?? '127.0.0.1';
  const services = SERVICE_ORDER.map((name) => ({ name, port: envPort(`${name.toUpperCase()}_PORT`, CONTEXT_PORTS[name]!, env) }));
  const gatewayPort = envPort('GATEWAY_PORT', 8080, env);
  const ports: PortUse[] = [
    ...services.map((s) => ({ variable: `${s.name.toUpperCase()}_PORT`, host, port: s.port })),
    { variable: 'GATEWAY_PORT', host, port: gatewayPort },
  ];
  const externalMqtt = envUrl('MQTT_URL', ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:'], env);
  const brokerHost = envString('BROKER_HOST', '127.0.0.1', env);
  const brokerHttpPort = envPort('BROKER_HTTP_PORT', 8090, env);
  const brokerMqttPort = envPort('BROKER_MQTT_PORT', 1884, env);
  if (!externalMqtt) {
    ports.push({ variable: 'BROKER_MQTT_PORT', host: brokerHost, port: brokerMqttPort });
    ports.push({ variable: 'BROKER_HTTP_PORT', host: brokerHost, port: brokerHttpPort });
    if (env.BROKER_WS_PORT !== 'off')
      ports.push({ variable: 'BROKER_WS_PORT', host: brokerHost, port: envPort('BROKER_WS_PORT', 8884, env) });
  }
  if (!env.SMTP_URL)
    for (const [variable, port] of [
      ['MAIL_CATCHER_SMTP_PORT', 1025],
      ['MAIL_CATCHER_HTTP_PORT', 8025],
    ] as const)
      ports.push({ variable, host: '127.0.0.1', port: envPort(variable, port, env) });
  const brokerUrl =
    envOptional('BROKER_URL', env) ??
    (externalMqtt ? 'off' : `http://${brokerHost === '0.0.0.0' ? '127.0.0.1' : brokerHost}:${brokerHttpPort}`);
  return {
    pgBase,
    dbPrefix,
    redisUrl,
    externalMqtt,
    mqttUrl: externalMqtt ?? `mqtt://127.0.0.1:${brokerMqttPort}`,
    brokerHttpPort,
    brokerUrl,
    services,
    gatewayPort,
    ports,
  };
}

// A child that exits is restarted with backoff and logged; Ctrl-C stops them all (scripts/supervisor.ts).
const supervisor = new Supervisor();
let catcher: MailCatcher | undefined;
stopOnSignals(supervisor, () => {
  void (catcher?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});

function run(name: string, entry: string, env: Record<string, string>): void {
  supervisor.start({ name, command: process.execPath, args: [entry], cwd: root, env: { ...process.env, ...env } });
}

/** Waits for `url` to answer 200; a child that keeps exiting meanwhile ends the wait with its name. */
async function healthy(url: string, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (supervisor.restartsOf(name) >= 3)
      throw new Error(`${name} exited ${supervisor.restartsOf(name)} times while starting; see its output above`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message; // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} did not become healthy at ${url} within 60 s (last: ${last})`);
}

async function main(): Promise<void> {
  const plan = planFromEnv(process.env);
  await assertPortsFree(plan.ports);
  const admin = new pg.Client({ connectionString: `${plan.pgBase}/postgres` });
  await admin.connect();
  try {
    for (const s of plan.services) {
      const db = `${plan.dbPrefix}${s.name}`;
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${db}`);
    }
  } finally {
    await admin.end();
  }

  if (!plan.externalMqtt) {
    run('broker', 'dist/scripts/broker.js', { REDIS_URL: plan.redisUrl });
    await healthy(`http://127.0.0.1:${plan.brokerHttpPort}/health`, 'broker');
  }
  // In this process: it ends with it (Ctrl-C stops the children, then closes it).
  if (!process.env.SMTP_URL) catcher = await startMailCatcher();
  const smtpUrl = process.env.SMTP_URL ?? catcher!.smtpUrl;
  for (const s of plan.services) {
    run(s.name, `services/${s.name}/dist/main.js`, {
      DATABASE_URL: `${plan.pgBase}/${plan.dbPrefix}${s.name}`,
      REDIS_URL: plan.redisUrl,
      MQTT_URL: plan.mqttUrl,
      ...(s.name === 'notifications' ? { SMTP_URL: smtpUrl } : {}),
      // Audit asks the broker's HTTP API for delivery facts (`off` with an external MQTT broker: flows then say "unknown").
      ...(s.name === 'audit' ? { BROKER_URL: plan.brokerUrl } : {}),
    });
    await healthy(`http://127.0.0.1:${s.port}/health`, s.name);
  }
  // The one public entry, last: it forwards to the services above, wherever their ports are.
  const upstreams = Object.fromEntries(plan.services.map((s) => [`${s.name.toUpperCase()}_URL`, `http://127.0.0.1:${s.port}`]));
  run('gateway', 'services/gateway/dist/main.js', { REDIS_URL: plan.redisUrl, MQTT_URL: plan.mqttUrl, ...upstreams });
  await healthy(`http://127.0.0.1:${plan.gatewayPort}/health`, 'gateway');
  console.log(
    `\nGateway (the public API): http://127.0.0.1:${plan.gatewayPort}/api/<context>/…  reference: http://127.0.0.1:${plan.gatewayPort}/docs`,
  );
  console.log(
    `\nAlbergue services are running, one process each (broker ${plan.mqttUrl}, Redis ${plan.redisUrl}, Postgres ${plan.pgBase}/${plan.dbPrefix}<service>, mail ${catcher ? `caught at ${catcher.httpUrl}/messages` : smtpUrl}). A service that exits is restarted; Ctrl-C stops them.\n`,
  );
}

main().catch((err: unknown) => {
  console.error(`start:services: ${(err as Error).message}`);
  void supervisor
    .stop()
    .then(() => catcher?.close())
    .finally(() => process.exit(1));
});
