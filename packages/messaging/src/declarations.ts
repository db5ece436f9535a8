import type { Context, EventDefinition } from '@albergue/events';
import type { SubscriptionPolicy } from './ports/ledger.js';

/**
 * What a service publishes and subscribes to, declared once in code. The runtime wires itself from
 * it, the broker derives its ACL from it, and the catalog is generated from it.
 */
export interface ServiceDeclaration {
  /** Service name; also the default subscriber (consumer group) and MQTT username. */
  readonly service: string;
  /** The context whose topics it may publish under. */
  readonly context: Context;
  readonly publishes: readonly EventDefinition[];
  readonly subscribes: readonly SubscriptionDeclaration[];
  /**
   * One MQTT wildcard subscription covering many events (audit's `albergue/#`). The events it
   * covers are every defined event whose topic matches `filter`, minus `except` (a service never
   * subscribes to its own output this way: audit excepts AuditLogged). The runtime subscribes
   * once with the filter; the broker's ACL grants the filter; the catalog lists the covered events.
   */
  readonly subscribesAll?: WildcardSubscriptionDeclaration;
}

export interface WildcardSubscriptionDeclaration {
  /** MQTT topic filter, e.g. `albergue/#`. */
  readonly filter: string;
  /** Handler name, e.g. `recordOnAnyEvent`. */
  readonly handler: string;
  /** Consumer group; defaults to the service name. */
  readonly subscriber?: string;
  readonly except?: readonly EventDefinition[];
  readonly policy?: Partial<SubscriptionPolicy>;
}

export interface SubscriptionDeclaration {
  readonly event: EventDefinition;
  /** Handler name, `<action>On<Event>`, e.g. `initiatePaymentOnBookingReserved`. */
  readonly handler: string;
  /** Consumer group; defaults to the service name. */
  readonly subscriber?: string;
  readonly policy?: Partial<SubscriptionPolicy>;
}

export function declareService(d: ServiceDeclaration): ServiceDeclaration {
  for (const p of d.publishes) {
    if (p.context !== d.context)
      throw new Error(`${d.service} declares ${p.topic}, which belongs to context ${p.context}, not ${d.context}`);
  }
  return Object.freeze(d);
}
