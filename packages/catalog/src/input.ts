import type { EventDefinition } from '@albergue/events';
import type { ServiceDeclaration } from '@albergue/messaging';

/** One HTTP route of a service, as its Fastify app registers it. */
export interface HttpRoute {
  readonly method: string;
  /** Fastify form, `/bookings/:booking_id`. */
  readonly path: string;
  readonly summary?: string;
  /** The runtime's own routes (`/health`, `/metrics`, `/openapi.json`): hidden from the OpenAPI document. */
  readonly operational: boolean;
}

/** A value stream (ARCHITECTURE §1): its name, what starts it and the milestones it passes. */
export interface ValueStream {
  /** `reserve → pay → confirm → notify`. */
  readonly name: string;
  /** Who or what starts it: `a guest reserves beds (POST /bookings)`. */
  readonly startedBy: { readonly actor: string; readonly action: string };
  /**
   * The milestones in order, each one or more alternative events; the first is how the stream
   * starts. `'any'` as the first milestone: every event (the audit trail), covered by the wildcard
   * subscriptions (`subscribesAll`). Between two milestones the catalog finds the path through the
   * declarations (handlers' `emits`, services' `followUps`).
   */
  readonly milestones: readonly (readonly EventDefinition[] | 'any')[];
}

/** One Redis key pattern and what it holds. */
export interface RedisKeyDoc {
  readonly pattern: string;
  readonly type: string;
  readonly holds: string;
  /** Who owns it, e.g. `@albergue/messaging`. */
  readonly owner: string;
}

/** SQL that creates tables (migrations), and who owns it. */
export interface TableSource {
  readonly owner: string;
  /** e.g. `migration 1 (outbox_events)`. */
  readonly origin: string;
  readonly sql: string;
}

/** An MQTT account and its ACL, as the broker and the Mosquitto generator derive them. */
export interface BrokerAccount {
  readonly username: string;
  readonly clientIdPrefix: string;
  /** MQTT topics or filters. */
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** Everything the catalog is generated from; the result is a pure function of it. */
export interface CatalogInput {
  /** Every defined event (every version). */
  readonly events: readonly EventDefinition[];
  readonly declarations: readonly ServiceDeclaration[];
  /** One valid sample payload per event name. */
  readonly samplePayloads: Readonly<Record<string, unknown>>;
  /** The full JSON Schema of an event version (envelope + payload), as committed. */
  readonly schemaOf: (def: EventDefinition) => Record<string, unknown>;
  /** Path of the committed schema file, relative to the folder the documents are written to. */
  readonly schemaLink: (def: EventDefinition) => string;
  /** HTTP routes per service name; a declared service without an entry is reported as such. */
  readonly http: Readonly<Record<string, readonly HttpRoute[]>>;
  readonly streams: readonly ValueStream[];
  readonly redisKeys: readonly RedisKeyDoc[];
  readonly tables: readonly TableSource[];
  readonly accounts: readonly BrokerAccount[];
  /** The MQTT server of the AsyncAPI document. */
  readonly server: { readonly host: string; readonly description: string };
}
