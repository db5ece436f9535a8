export * from './brokers';
export * from './fixtures';
export * from './ledgers';
