import { ConfigError, createLogger } from '@albergue/platform';

/** Something that starts and stops: a service runtime, the broker. */
export interface Stoppable {
  close(): Promise<void>;
}

/**
 * The body of a composition root: starts `start()`, stops it on SIGINT/SIGTERM, and exits non-zero
 * with a one-line reason on a configuration mistake (a ConfigError names the variable to fix).
 */
export function runUntilSignal(name: string, start: () => Promise<Stoppable>): void {
  const logger = createLogger(name);
  start().then(
    (running) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, `stopping ${name}`);
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'error while stopping');
            process.exit(1);
          },
        );
      };
      // on, not once: a second signal (npm relays the terminal's) must not kill the process mid-stop.
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        logger.fatal(err.message);
        console.error(`${name}: ${err.message}`);
      } else {
        logger.fatal({ err }, `${name} failed to start`);
      }
      process.exit(1);
    },
  );
}
