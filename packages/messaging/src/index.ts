export * from './ports/ledger';
export * from './declarations';
export * from './ledger/policy';
export * from './ledger/memory-ledger';
export * from './ledger/redis-ledger';
export * from './dlq/operations';
// Transport, router and runtime (helper B)
export * from './ports/publisher';
export * from './metrics';
export * from './mqtt/connect';
export * from './mqtt/outgoing';
export * from './mqtt/publisher';
export * from './mqtt/subscriber';
export * from './router/context';
export * from './router/middleware';
export * from './router/router';
export * from './router/worker';
export * from './runtime/consumer';
