// Documents' whole HTTP API as one Fastify plugin: service.ts registers it, and the catalog
// (scripts/catalog.ts → docs/CATALOG.md) lists its routes by registering the same plugin with inert
// dependencies, so a route added here shows up there with no second list.
import type { FastifyPluginAsync } from 'fastify';
import type { DocumentsHttpDeps } from './adapters/http/routes.js';
import { documentsRoutes } from './adapters/http/routes.js';

export type HttpApiDeps = DocumentsHttpDeps;

export function httpApi(deps: HttpApiDeps): FastifyPluginAsync {
  return documentsRoutes(deps);
}
