// `npm start`: the whole system in one process on embedded defaults — the broker (Aedes, in memory),
// one in-memory delivery ledger, and every service on its own PGlite database under DATA_DIR
// (default ./data). Ctrl-C stops everything cleanly. Every port can be moved by its env variable.
import { brokerOptionsFromEnv, startBroker } from '@albergue/broker';
import { createBookingService } from '@albergue/booking/service';
import { createDocumentsService } from '@albergue/documents/service';
import { DEV_KEYS } from '@albergue/gateway';
import type { GatewayRuntime } from '@albergue/gateway/service';
import { createGatewayService } from '@albergue/gateway/service';
import { createLocationService } from '@albergue/location/service';
import type { MailCatcher } from '@albergue/mail-catcher';
import { startMailCatcher } from '@albergue/mail-catcher';
import { MemoryDeliveryLedger } from '@albergue/messaging';
import { createOperationsService } from '@albergue/operations/service';
import { ConfigError, createLogger } from '@albergue/platform';
import { createNotificationsService } from '@albergue/notifications/service';
import { createPaymentService } from '@albergue/payment/service';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { join } from 'node:path';
import { SYSTEM_DECLARATIONS } from './declarations.js';

const logger = createLogger('albergue');

async function main(): Promise<void> {
  const ledger = ledgerBundle(new MemoryDeliveryLedger());
  // The broker's accounts and ACL: the services started below (scripts/declarations.ts).
  const brokerOptions = brokerOptionsFromEnv(SYSTEM_DECLARATIONS);
  const broker = await startBroker({ ...brokerOptions, ledger, logger: logger.child({ service: 'broker' }) });
  const services: ServiceRuntime[] = [];
  let gateway: GatewayRuntime | undefined;
  let catcher: MailCatcher | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await gateway?.close();
      for (const s of [...services].reverse()) await s.close();
      await broker.close();
      await ledger.ledger.close();
      await catcher?.close();
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
    const shared = { ledger, config: { mqttUrl: broker.mqttUrl } };
    // Mail goes to SMTP_URL when set, else to the mail catcher started here (a real SMTP server on loopback that keeps it).
    if (!process.env.SMTP_URL)
      catcher = await startMailCatcher({
        dir: join(process.env.DATA_DIR ?? 'data', 'mail'),
        logger: logger.child({ service: 'mail-catcher' }),
      });
    const smtpUrl = process.env.SMTP_URL ?? catcher?.smtpUrl;
    const createNotifications = (o: typeof shared) => createNotificationsService({ ...o, ...(smtpUrl ? { smtpUrl } : {}) });
    const factories = [createLocationService, createBookingService, createPaymentService, createDocumentsService, createNotifications, createOperationsService];
    for (const create of factories) {
      const rt = await create(shared);
      services.push(rt);
      // A service missing from the declarations would have no MQTT account: say so instead of failing to connect.
      if (!SYSTEM_DECLARATIONS.some((d) => d.service === rt.config.service))
        throw new Error(`${rt.config.service} runs but is not in scripts/declarations.ts, so the broker has no account for it`);
    }
    // Every subscriber's session first, then publishing: nothing published at start-up is missed.
    for (const rt of services) await rt.startConsumers();
    const urls: [string, string, string][] = [];
    for (const rt of services) urls.push([rt.config.service, await rt.start(), rt.config.databaseUrl ? 'postgres' : rt.config.dataDir]);
    // The one public entry, in front of the services just started (other contexts: `<CONTEXT>_URL` or their default ports).
    const upstreams = Object.fromEntries(urls.map(([name, url]) => [name, url]));
    gateway = await createGatewayService({ config: { mqttUrl: broker.mqttUrl, upstreams } });
    const gatewayUrl = await gateway.start();
    const lines = [
      '',
      'Albergue is running (embedded mode). Ctrl-C stops it.',
      `  gateway        ${gatewayUrl}  (the public API: ${gatewayUrl}/api/<context>/…, reference ${gatewayUrl}/docs)`,
      `  broker         ${broker.httpUrl}  (MQTT ${broker.mqttUrl}${broker.wsPort ? `, WebSocket ws://127.0.0.1:${broker.wsPort}` : ''})`,
      ...urls.map(([name, url, data]) => `  ${name.padEnd(14)} ${url}  data: ${data}`),
      catcher
        ? `  mail catcher   ${catcher.httpUrl}/messages  (SMTP ${catcher.smtpUrl}; every mail sent, also as .eml under ${join(process.env.DATA_DIR ?? 'data', 'mail')})`
        : `  mail           sent to ${process.env.SMTP_URL ?? ''}`,
      '',
      ...(process.env.GATEWAY_KEYS || process.env.GATEWAY_KEYS_FILE
        ? []
        : [`  Development API keys (x-api-key): ${DEV_KEYS.map((k) => `${k.scopes.join(',')} ${k.key}`).join(' | ')}`]),
      `  Watch every event: mosquitto_sub -h 127.0.0.1 -p ${broker.mqttPort} -u observer -P observer-dev-password -t 'albergue/#' -v`,
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
