// @albergue/payment: payments, the provider port and its simulated card network, provider callbacks.
export * from './domain/payment';
export * from './application/ports';
export type { CommandResult, HandlerOutcome } from './application/support';
export { paymentView } from './application/support';
export * from './application/initiate-payment';
export * from './application/charge-payment';
export * from './application/settle-payment';
export * from './application/close-payment';
export * from './application/refund-payment';
export * from './application/queries';
export { MemoryPaymentStore } from './adapters/memory/memory-payment-store';
export { PgPaymentRepository } from './adapters/postgres/pg-payment-repository';
export { PgPaymentQueries } from './adapters/postgres/pg-payment-queries';
export { PAYMENT_MIGRATIONS } from './adapters/postgres/migrations';
export * from './adapters/provider/simulated-card-network';
export * from './adapters/provider/http-callback';
export { paymentRoutes, statusOf as paymentErrorStatus } from './adapters/http/routes';
export type { PaymentHttpDeps } from './adapters/http/routes';
