// Payment's whole HTTP API as one Fastify plugin: service.ts registers it, and the catalog
// (scripts/catalog.ts → docs/CATALOG.md) lists its routes by registering the same plugin with inert
// dependencies, so a route added here shows up there with no second list.
import type { FastifyPluginAsync } from 'fastify';
import { refundRoutes } from './adapters/http/refund-routes.js';
import type { PaymentHttpDeps } from './adapters/http/routes.js';
import { paymentRoutes } from './adapters/http/routes.js';
import type { RefundDeps } from './application/refund-payment.js';

export interface HttpApiDeps {
  /** Payments, charges and the provider callback. */
  readonly payments: PaymentHttpDeps;
  /** Refunds for operators. */
  readonly refunds: RefundDeps;
}

/** Each part stays its own encapsulated plugin (the callback's raw-body JSON parser is payment routes' only). */
export function httpApi(deps: HttpApiDeps): FastifyPluginAsync {
  return async (app) => {
    await app.register(paymentRoutes(deps.payments));
    await app.register(refundRoutes(deps.refunds));
  };
}
