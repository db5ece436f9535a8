// `npm run start:services`: one process per service on real infrastructure — the broker service
// (Aedes, sessions and queues in Redis), then audit, booking, payment, notifications and operations
// (subscribers first, so their persistent sessions exist before anything is published), then location
// and documents, then the gateway. Each service gets its
// own Postgres database (created if missing). Defaults fit this machine kind:
//   PG_URL=postgres://postgres@127.0.0.1:5432   REDIS_URL=redis://127.0.0.1:6379
// With MQTT_URL set, no broker is started and the services use that broker (Mosquitto/EMQX with the
// configuration from `npm run broker:mosquitto-config`). A process that exits is restarted with
// backoff (logged); Ctrl-C / SIGTERM stops every process and restarts none.
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { MailCatcher } from '@albergue/mail-catcher';
import { startMailCatcher } from '@albergue/mail-catcher';
import { Supervisor, stopOnSignals } from './supervisor.js';

// This file runs built, as dist/scripts/start-services.js (`npm run start:services` builds first), and
// starts each service's built main (services/<name>/dist/main.js) with plain node.
const root = fileURLToPath(new URL('../..', import.meta.url));
const pgBase = (process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Each service's database is `<PG_DB_PREFIX><service>` (default `albergue_`): another prefix keeps a second system
// (a test's) out of a developer's databases. Redis keys and MQTT topics have no such prefix yet.
const dbPrefix = process.env.PG_DB_PREFIX ?? 'albergue_';
if (!/^[a-z_][a-z0-9_]{0,40}$/.test(dbPrefix)) throw new Error(`PG_DB_PREFIX must match [a-z_][a-z0-9_]{0,40}, got "${dbPrefix}"`);
const externalMqtt = process.env.MQTT_URL;
const mqttUrl = externalMqtt ?? `mqtt://127.0.0.1:${process.env.BROKER_MQTT_PORT ?? '1884'}`;

const services = [
  { name: 'audit', port: process.env.AUDIT_PORT ?? '8106' },
  { name: 'booking', port: process.env.BOOKING_PORT ?? '8102' },
  { name: 'payment', port: process.env.PAYMENT_PORT ?? '8103' },
  { name: 'notifications', port: process.env.NOTIFICATIONS_PORT ?? '8105' },
  { name: 'operations', port: process.env.OPERATIONS_PORT ?? '8107' },
  { name: 'location', port: process.env.LOCATION_PORT ?? '8101' },
  { name: 'documents', port: process.env.DOCUMENTS_PORT ?? '8104' },
];
const gateway = { name: 'gateway', port: process.env.GATEWAY_PORT ?? '8080' };
// Mail goes to SMTP_URL when set, else to a mail catcher run by this process (smtp://127.0.0.1:1025, its messages at :8025).
let catcher: MailCatcher | undefined;
// A child that exits is restarted with backoff and logged; Ctrl-C stops them all (scripts/supervisor.ts).
const supervisor = new Supervisor();
stopOnSignals(supervisor);

function run(name: string, entry: string, env: Record<string, string>): void {
  supervisor.start({ name, command: process.execPath, args: [entry], cwd: root, env: { ...process.env, ...env } });
}

async function healthy(url: string, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
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
  const admin = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await admin.connect();
  for (const s of services) {
    const db = `${dbPrefix}${s.name}`;
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${db}`);
  }
  await admin.end();

  if (!externalMqtt) {
    run('broker', 'dist/scripts/broker.js', { REDIS_URL: redisUrl });
    await healthy(`http://127.0.0.1:${process.env.BROKER_HTTP_PORT ?? '8090'}/health`, 'broker');
  }
  // In this process: it ends with it (Ctrl-C stops the children, then exits).
  if (!process.env.SMTP_URL) catcher = await startMailCatcher();
  const smtpUrl = process.env.SMTP_URL ?? catcher!.smtpUrl;
  for (const s of services) {
    run(s.name, `services/${s.name}/dist/main.js`, {
      DATABASE_URL: `${pgBase}/${dbPrefix}${s.name}`,
      REDIS_URL: redisUrl,
      MQTT_URL: mqttUrl,
      ...(s.name === 'notifications' ? { SMTP_URL: smtpUrl } : {}),
      // Audit asks the broker's HTTP API for delivery facts (none with an external MQTT broker: flows then say "unknown").
      BROKER_URL: process.env.BROKER_URL ?? `http://127.0.0.1:${process.env.BROKER_HTTP_PORT ?? '8090'}`,
    });
    await healthy(`http://127.0.0.1:${s.port}/health`, s.name);
  }
  // The one public entry, last: it forwards to the services above (`<CONTEXT>_URL`, default loopback ports).
  run(gateway.name, 'services/gateway/dist/main.js', { REDIS_URL: redisUrl, MQTT_URL: mqttUrl });
  await healthy(`http://127.0.0.1:${gateway.port}/health`, gateway.name);
  console.log(
    `\nGateway (the public API): http://127.0.0.1:${gateway.port}/api/<context>/…  reference: http://127.0.0.1:${gateway.port}/docs`,
  );
  console.log(
    `\nAlbergue services are running, one process each (broker ${externalMqtt ? externalMqtt : mqttUrl}, Redis ${redisUrl}, Postgres ${pgBase}, mail ${catcher ? `caught at ${catcher.httpUrl}/messages` : smtpUrl}). A service that exits is restarted; Ctrl-C stops them.\n`,
  );
}

main().catch((err: unknown) => {
  console.error(`start:services: ${(err as Error).message}`);
  void supervisor.stop().then(() => process.exit(1));
});
