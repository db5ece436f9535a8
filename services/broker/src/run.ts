// The broker as a process: options from the environment (config/env.ts, services/broker/README.md),
// graceful stop on SIGINT/SIGTERM. The composition root (scripts/broker.ts) calls it with the
// declarations of the services it runs: the broker knows no business service of its own.
import type { ServiceDeclaration } from '@albergue/messaging';
import { ConfigError, createLogger } from '@albergue/platform';
import { brokerOptionsFromEnv } from './config/env.js';
import { startBroker } from './start.js';

/** Starts the broker from the environment for `declarations`; a start failure is logged and exits 1. */
export async function runBrokerProcess(declarations: readonly ServiceDeclaration[]): Promise<void> {
  const logger = createLogger('broker');
  try {
    const broker = await startBroker({ ...brokerOptionsFromEnv(declarations), logger });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping broker');
      broker.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  } catch (err) {
    if (err instanceof ConfigError) logger.fatal(err.message);
    else logger.fatal({ err }, 'broker failed to start');
    process.exit(1);
  }
}
