export * from './config';
export * from './http';
export * from './runtime';
export * from './transactional-inbox';
export * from './run';
export * from './idempotency';
export * from './unit-of-work';
