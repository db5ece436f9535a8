export * from './config';
export * from './http';
export * from './runtime';
export * from './run';
export * from './idempotency';
export * from './unit-of-work';
