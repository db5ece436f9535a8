// `npm start`: the whole system in one process on embedded defaults — the broker (Aedes, in memory),
// one in-memory delivery ledger, and every service on its own PGlite database under DATA_DIR
// (default ./data). Ctrl-C stops everything cleanly. Every port can be moved by its env variable.
import { createAuditService } from '@albergue/audit/service';
import { brokerOptionsFromEnv, startBroker } from '@albergue/broker';
import { createBookingService } from '@albergue/booking/service';
import { createLocationService } from '@albergue/location/service';
import { MemoryDeliveryLedger } from '@albergue/messaging';
import { ConfigError, createLogger } from '@albergue/platform';
import { createPaymentService } from '@albergue/payment/service';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { SYSTEM_DECLARATIONS } from './declarations.js';

const logger = createLogger('albergue');

async function main(): Promise<void> {
  const ledger = ledgerBundle(new MemoryDeliveryLedger());
  // The broker's accounts and ACL: the services started below (scripts/declarations.ts).
  const brokerOptions = brokerOptionsFromEnv(SYSTEM_DECLARATIONS);
  const broker = await startBroker({ ...brokerOptions, ledger, logger: logger.child({ service: 'broker' }) });
  const services: ServiceRuntime[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const s of [...services].reverse()) await s.close();
      await broker.close();
      await ledger.ledger.close();
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
    // Audit asks the broker's API for delivery facts and takes each topic's subscribers from the declarations.
    const createAudit = (o: typeof shared) =>
      createAuditService({
        ...o,
        broker: { url: broker.httpUrl, adminToken: brokerOptions.adminToken },
        declarations: SYSTEM_DECLARATIONS,
      });
    const factories = [createLocationService, createBookingService, createPaymentService, createAudit];
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
    const lines = [
      '',
      'Albergue is running (embedded mode). Ctrl-C stops it.',
      `  broker         ${broker.httpUrl}  (MQTT ${broker.mqttUrl}${broker.wsPort ? `, WebSocket ws://127.0.0.1:${broker.wsPort}` : ''})`,
      ...urls.map(([name, url, data]) => `  ${name.padEnd(14)} ${url}  data: ${data}`),
      '',
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
