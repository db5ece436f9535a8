export * from './brokers.js';
export * from './fixtures.js';
export * from './ledgers.js';
export * from './redis-servers.js';
