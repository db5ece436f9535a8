// @albergue/catalog: docs/CATALOG.md and docs/asyncapi.yaml as a pure function of the event
// definitions and the service declarations (plus the routes, keys, tables and accounts the
// composition root reads from the code). scripts/catalog.ts gathers the input and writes the files.
import { renderAsyncApi } from './asyncapi.js';
import type { CatalogInput } from './input.js';
import { renderCatalog } from './markdown.js';
import { buildModel } from './model.js';

export * from './input.js';
export { asyncApiDocument } from './asyncapi.js';
export { deterministicUuidV7, exampleEnvelope } from './example.js';
export { httpRoutesOf, inertDependencies } from './http-routes.js';
export { eventAnchor } from './markdown.js';
export { buildModel, coveredEvents, filterMatches, unpublishedEvents } from './model.js';
export type { CatalogModel, Consumer, Edge } from './model.js';
export { payloadFields, schemaFields } from './schema-fields.js';
export type { FieldRow } from './schema-fields.js';
export { flowchart, sequenceDiagram, walkStream } from './streams.js';
export type { WalkedStream } from './streams.js';
export { tablesOf } from './tables.js';
export type { TableColumn, TableDoc } from './tables.js';

export interface GeneratedCatalog {
  /** docs/CATALOG.md */
  readonly markdown: string;
  /** docs/asyncapi.yaml */
  readonly asyncapi: string;
  /** Declarations that contradict the definitions (an unknown event, a second publisher…): refuse to write. */
  readonly problems: readonly string[];
}

export function generateCatalog(input: CatalogInput): GeneratedCatalog {
  const model = buildModel(input);
  return { markdown: renderCatalog(model), asyncapi: renderAsyncApi(model), problems: model.problems };
}
