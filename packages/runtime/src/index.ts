export * from './config.js';
export * from './http.js';
export * from './runtime.js';
export * from './run.js';
export * from './idempotency.js';
export * from './unit-of-work.js';
