import type { Static, TObject } from '@sinclair/typebox';
import type { Context } from './topics.js';
import { eventTopic } from './topics.js';

/**
 * One event type at one version, defined once: the catalog, JSON Schemas, AsyncAPI document,
 * validation and TypeScript types all derive from this.
 */
export interface EventDefinition<N extends string = string, V extends number = number, S extends TObject = TObject> {
  readonly context: Context;
  readonly name: N;
  readonly version: V;
  /** The aggregate the event belongs to, e.g. "booking". */
  readonly aggregateType: string;
  readonly description: string;
  readonly payload: S;
  /** Which payload field identifies the aggregate instance. */
  aggregateId(payload: Static<S>): string;
  /** Logical topic `albergue.<context>.v<version>.<name>`. */
  readonly topic: string;
  /** Stable schema id (a URN, never a web address). */
  readonly schemaId: string;
}

export type PayloadOf<D> = D extends EventDefinition<string, number, infer S> ? Static<S> : never;

export function schemaIdOf(context: string, name: string, version: number): string {
  return `urn:albergue:event:${context}:${name}:v${version}`;
}

export function defineEvent<const N extends string, const V extends number, S extends TObject>(def: {
  context: Context;
  name: N;
  version: V;
  aggregateType: string;
  description: string;
  payload: S;
  aggregateId: (payload: Static<S>) => string;
}): EventDefinition<N, V, S> {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(def.name)) throw new Error(`event name "${def.name}" must be PascalCase`);
  if (!Number.isInteger(def.version) || def.version < 1) throw new Error(`event ${def.name}: version must be an integer >= 1`);
  return Object.freeze({
    ...def,
    topic: eventTopic(def.context, def.version, def.name),
    schemaId: schemaIdOf(def.context, def.name, def.version),
  });
}
