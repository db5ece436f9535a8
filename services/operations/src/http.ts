// Operations' whole HTTP API as one Fastify plugin: service.ts registers it, and the catalog
// (scripts/catalog.ts → docs/CATALOG.md) lists its routes by registering the same plugin with inert
// dependencies, so a route added here shows up there with no second list.
import type { FastifyPluginAsync } from 'fastify';
import type { OperationsHttpDeps } from './adapters/http/routes.js';
import { operationsRoutes } from './adapters/http/routes.js';

export type HttpApiDeps = OperationsHttpDeps;

export function httpApi(deps: HttpApiDeps): FastifyPluginAsync {
  return operationsRoutes(deps);
}
