// `npm start`: the whole system in one process on embedded defaults — the broker (Aedes, in memory),
// one in-memory delivery ledger, and one embedded Postgres server under DATA_DIR (default ./data)
// with a database per service (scripts/embedded-databases.ts). Ctrl-C stops everything cleanly. Every
// port can be moved by its env variable.
//
// Start-up runs what it can at once: the database server starts (initdb on a first start) while the
// rest of the system's code loads; then the broker and the databases, then every service (migrations
// included), then every consumer, then HTTP and the relays.
import { join, resolve } from 'node:path';
import type * as BrokerModule from '@albergue/broker';
import type { GatewayRuntime } from '@albergue/gateway';
import type { MailCatcher } from '@albergue/mail-catcher';
import type { LedgerBundle, ServiceRuntime } from '@albergue/runtime';
import { ConfigError, createLogger, envOptional } from '@albergue/platform';
import type { EmbeddedEngine } from './embedded-databases.js';
import { startEmbeddedEngine } from './embedded-databases.js';

const logger = createLogger('albergue');
const dataDir = resolve(envOptional('DATA_DIR') ?? 'data');
// Before anything else is loaded: the server's processes work on the other core meanwhile.
const engineStarting = startEmbeddedEngine({ dataDir, env: process.env, logger });
engineStarting.catch(() => undefined); // awaited (and reported) in main

async function main(): Promise<void> {
  const services: ServiceRuntime[] = [];
  let broker: Awaited<ReturnType<typeof BrokerModule.startBroker>> | undefined;
  let ledger: LedgerBundle | undefined;
  let databases: EmbeddedEngine | undefined;
  let gateway: GatewayRuntime | undefined;
  let catcher: MailCatcher | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await gateway?.close();
      await Promise.allSettled(services.map((s) => s.close()));
      await broker?.close();
      await ledger?.ledger.close();
      await catcher?.close();
      // Last: the services' sessions are closed by now. A server still starting is stopped once it is up.
      await (databases ?? (await engineStarting.catch(() => undefined)))?.stop();
    })());
  let exiting = false;
  const exit = () => {
    if (exiting) return;
    exiting = true;
    void stop().then(
      () => {
        console.log('Albergue stopped.');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', exit); // on, not once: npm relays the terminal's SIGINT too, and a second one must not kill us mid-stop
  process.on('SIGTERM', exit);

  try {
    const [
      { brokerOptionsFromEnv, startBroker },
      { MemoryDeliveryLedger },
      { ledgerBundle, serviceEnvPrefix },
      { SYSTEM_DECLARATIONS },
      { createGatewayService },
      { DEV_KEYS },
      { startMailCatcher },
    ] = await Promise.all([
      import('@albergue/broker'),
      import('@albergue/messaging'),
      import('@albergue/runtime'),
      import('./declarations.js'),
      import('@albergue/gateway/service'),
      import('@albergue/gateway'),
      import('@albergue/mail-catcher'),
    ]);
    // Mail goes to SMTP_URL when set, else to the mail catcher started here (a real SMTP server on loopback that keeps it).
    const mailDir = join(dataDir, 'mail');
    const catcherStarting = process.env.SMTP_URL
      ? undefined
      : startMailCatcher({ dir: mailDir, logger: logger.child({ service: 'mail-catcher' }) }).then((c) => (catcher = c));
    catcherStarting?.catch(() => undefined); // awaited below
    type Shared = { ledger: LedgerBundle; config: { mqttUrl: string }; env: Record<string, string | undefined> };
    // The services `npm start` runs: one line each (and its declaration in scripts/declarations.ts).
    const FACTORIES: ((o: Shared) => Promise<ServiceRuntime>)[] = await Promise.all([
      import('@albergue/location/service').then((m) => m.createLocationService),
      import('@albergue/booking/service').then((m) => m.createBookingService),
      import('@albergue/payment/service').then((m) => m.createPaymentService),
      import('@albergue/documents/service').then((m) => m.createDocumentsService),
      import('@albergue/notifications/service').then((m) => async (o: Shared) => {
        const smtpUrl = process.env.SMTP_URL ?? (await catcherStarting)?.smtpUrl;
        return m.createNotificationsService({ ...o, ...(smtpUrl ? { smtpUrl } : {}) });
      }),
      import('@albergue/operations/service').then((m) => m.createOperationsService),
      // Audit asks the broker's API for delivery facts and takes each topic's subscribers from the declarations.
      import('@albergue/audit/service').then(
        (m) => (o: Shared) =>
          m.createAuditService({
            ...o,
            broker: { url: broker!.httpUrl, adminToken: brokerOptions.adminToken },
            declarations: SYSTEM_DECLARATIONS,
          }),
      ),
    ]);
    ledger = ledgerBundle(new MemoryDeliveryLedger());
    // The broker's accounts and ACL: the services started below (scripts/declarations.ts).
    const brokerOptions = brokerOptionsFromEnv(SYSTEM_DECLARATIONS);
    const [b, d] = await Promise.allSettled([
      startBroker({ ...brokerOptions, ledger, logger: logger.child({ service: 'broker' }) }),
      engineStarting.then(async (engine) => {
        databases = engine;
        // A database for every declared service but the gateway, which keeps none.
        return engine.databases(
          SYSTEM_DECLARATIONS.map((s) => s.service).filter((s) => s !== 'gateway'),
          serviceEnvPrefix,
        );
      }),
    ]);
    if (b.status === 'fulfilled') broker = b.value;
    if (b.status === 'rejected') throw b.reason;
    if (d.status === 'rejected') throw d.reason;
    const shared = { ledger, config: { mqttUrl: broker!.mqttUrl }, env: { ...process.env, ...d.value } };
    // Created together (each opens its database and runs its migrations); a failure stops the others.
    // PGlites one after another: each creates its database in ~800 MB, and WASM shares one thread anyway.
    const created: PromiseSettledResult<ServiceRuntime>[] = [];
    if (databases!.engine === 'pglite') for (const create of FACTORIES) created.push(...(await Promise.allSettled([create(shared)])));
    else created.push(...(await Promise.allSettled(FACTORIES.map((create) => create(shared)))));
    for (const c of created) if (c.status === 'fulfilled') services.push(c.value);
    for (const c of created) if (c.status === 'rejected') throw c.reason;
    for (const rt of services)
      // A service missing from the declarations would have no MQTT account: say so instead of failing to connect.
      if (!SYSTEM_DECLARATIONS.some((d) => d.service === rt.config.service))
        throw new Error(`${rt.config.service} runs but is not in scripts/declarations.ts, so the broker has no account for it`);
    // Every subscriber's session first, then publishing: nothing published at start-up is missed.
    await Promise.all(services.map((rt) => rt.startConsumers()));
    const urls = await Promise.all(services.map((rt) => rt.start()));
    // The one public entry, in front of the services just started (other contexts: `<CONTEXT>_URL` or their default ports).
    const upstreams = Object.fromEntries(services.map((rt, i) => [rt.config.service, urls[i]!]));
    gateway = await createGatewayService({ config: { mqttUrl: broker!.mqttUrl, upstreams } });
    const gatewayUrl = await gateway.start();
    await catcherStarting;
    const lines = [
      '',
      'Albergue is running (embedded mode). Ctrl-C stops it.',
      `  gateway        ${gatewayUrl}  (the public API: ${gatewayUrl}/api/<context>/…, reference ${gatewayUrl}/docs)`,
      `  broker         ${broker!.httpUrl}  (MQTT ${broker!.mqttUrl}${broker!.wsPort ? `, WebSocket ws://127.0.0.1:${broker!.wsPort}` : ''})`,
      ...services.map((rt, i) => `  ${rt.config.service.padEnd(14)} ${urls[i]}  data: ${databases!.describe(rt.config.service)}`),
      catcher
        ? `  mail catcher   ${catcher.httpUrl}/messages  (SMTP ${catcher.smtpUrl}; every mail sent, also as .eml under ${mailDir})`
        : `  mail           sent to ${process.env.SMTP_URL ?? ''}`,
      '',
      ...(process.env.GATEWAY_KEYS || process.env.GATEWAY_KEYS_FILE
        ? []
        : [`  Development API keys (x-api-key): ${DEV_KEYS.map((k) => `${k.scopes.join(',')} ${k.key}`).join(' | ')}`]),
      `  Watch every event: mosquitto_sub -h 127.0.0.1 -p ${broker!.mqttPort} -u observer -P observer-dev-password -t 'albergue/#' -v`,
      '',
    ];
    console.log(lines.join('\n'));
  } catch (err) {
    await stop();
    throw err;
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`albergue: ${err.message}`);
  else logger.fatal({ err }, 'failed to start');
  process.exit(1);
});
