// @albergue/gateway: the one public HTTP entry.
export * from './domain/path.js';
export * from './domain/policy.js';
export * from './application/keys.js';
export * from './application/ports.js';
export { MemoryRateLimiter } from './adapters/memory/memory-rate-limiter.js';
export { RedisRateLimiter } from './adapters/redis/redis-rate-limiter.js';
export { CombinedOpenApi, combineOpenApi } from './adapters/http/openapi.js';
export * from './config.js';
export { gatewayDeclaration } from './declaration.js';
export { createGatewayService } from './service.js';
export type { GatewayRuntime, GatewayServiceOptions } from './service.js';
