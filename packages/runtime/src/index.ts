// Route schemas of every service carry OpenAPI fields (`tags`, `hide`): keep @fastify/swagger's
// FastifySchema augmentation in the declarations that services build against.
/// <reference types="@fastify/swagger" preserve="true" />
export * from './config.js';
export * from './http.js';
export * from './runtime.js';
export * from './run.js';
export * from './idempotency.js';
export * from './unit-of-work.js';
