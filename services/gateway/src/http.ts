// The gateway's whole HTTP API as one Fastify plugin: service.ts registers it on the gateway's app,
// and the catalog (scripts/catalog.ts → docs/CATALOG.md) lists its routes by registering the same
// plugin with inert dependencies. The gateway's API is small: its own routes (/health, /metrics,
// /openapi.json, /docs) and one catch-all; the routes it opens to clients are its policy table.
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayHttpDeps } from './adapters/http/gateway-app.js';
import { gatewayRoutes } from './adapters/http/gateway-app.js';

export type HttpApiDeps = GatewayHttpDeps;

export function httpApi(deps: HttpApiDeps): FastifyPluginAsync {
  return gatewayRoutes(deps);
}
