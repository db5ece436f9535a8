// Composition root: `npm run broker` (built: `node services/broker/dist/main.js`) starts the broker from the environment
// (see config/env.ts and services/broker/README.md) and stops it gracefully on SIGINT/SIGTERM.
import { ConfigError, createLogger } from '@albergue/platform';
import { brokerOptionsFromEnv } from './config/env.js';
import { startBroker } from './start.js';

const logger = createLogger('broker');

async function main(): Promise<void> {
  const options = brokerOptionsFromEnv();
  const broker = await startBroker({ ...options, logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping broker');
    broker.close().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'broker failed to start');
  process.exit(1);
});
