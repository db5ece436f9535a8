import { pino } from 'pino';
import type { Logger, LoggerOptions } from 'pino';

export type { Logger };

/**
 * JSON logs (pino) bound to a service. Bind subscriber/topic/event_id/correlation_id with
 * `logger.child({...})` where a message is handled. LOG_LEVEL sets the level (default info;
 * "silent" in tests unless LOG_LEVEL is set).
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const level = process.env.LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info');
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime, ...options });
}
