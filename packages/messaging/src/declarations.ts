import type { Context, EventDefinition } from '@albergue/events';
import { toMqttTopic } from '@albergue/events';
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
  /**
   * Events this service publishes later, on its own account, after an event (its own or one it
   * consumed): a timer or sweep, an HTTP command, a provider callback. Not wiring: the catalog walks
   * the value streams through them (with `emits` of the subscriptions). Every `leadsTo` event must
   * be one the service publishes.
   */
  readonly followUps?: readonly FollowUpDeclaration[];
}

export interface FollowUpDeclaration {
  /** The event after which it happens. */
  readonly after: EventDefinition;
  /** What the service may publish then (alternatives). */
  readonly leadsTo: readonly EventDefinition[];
  /** What happens in between, e.g. `the hold lapses unpaid (expire-reservations sweep)`. */
  readonly via: string;
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
  /** Events the handler may emit (in its inbox transaction); they must be ones the service publishes. */
  readonly emits?: readonly EventDefinition[];
}

export interface SubscriptionDeclaration {
  readonly event: EventDefinition;
  /** Handler name, `<action>On<Event>`, e.g. `initiatePaymentOnBookingReserved`. */
  readonly handler: string;
  /** Consumer group; defaults to the service name. */
  readonly subscriber?: string;
  readonly policy?: Partial<SubscriptionPolicy>;
  /**
   * Events the handler may emit (in its inbox transaction, so they inherit the consumed event's
   * correlation), alternatives included; none when left out. They must be ones the service
   * publishes. The catalog walks the value streams through them.
   */
  readonly emits?: readonly EventDefinition[];
}

export function declareService(d: ServiceDeclaration): ServiceDeclaration {
  for (const p of d.publishes) {
    if (p.context !== d.context)
      throw new Error(`${d.service} declares ${p.topic}, which belongs to context ${p.context}, not ${d.context}`);
  }
  const published = new Set(d.publishes.map((p) => p.topic));
  const mustPublish = (what: string, events: readonly EventDefinition[] = []) => {
    for (const e of events)
      if (!published.has(e.topic)) throw new Error(`${d.service}: ${what} leads to ${e.topic}, which ${d.service} does not publish`);
  };
  for (const s of d.subscribes) mustPublish(`handler ${s.handler}`, s.emits);
  if (d.subscribesAll) mustPublish(`handler ${d.subscribesAll.handler}`, d.subscribesAll.emits);
  for (const f of d.followUps ?? []) mustPublish(`the follow-up of ${f.after.name} (${f.via})`, f.leadsTo);
  return Object.freeze(d);
}

/** Whether an MQTT topic filter (`+` one level, `#` the rest, MQTT 3.1.1 §4.7) matches an MQTT topic name. */
export function mqttFilterMatches(filter: string, mqttTopic: string): boolean {
  const f = filter.split('/');
  const t = mqttTopic.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i]!;
    if (part === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (part !== '+' && part !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The events a wildcard subscription covers: every defined event (each version is its own topic)
 * whose MQTT topic matches the filter, minus `except`.
 */
export function wildcardEvents(w: WildcardSubscriptionDeclaration, defined: readonly EventDefinition[]): EventDefinition[] {
  const except = new Set((w.except ?? []).map((d) => d.topic));
  return defined.filter((d) => !except.has(d.topic) && mqttFilterMatches(w.filter, toMqttTopic(d.topic)));
}

/** A declared subscriber of a topic: who must handle an event published there. */
export interface DeclaredSubscriber {
  readonly service: string;
  readonly subscriber: string;
  readonly handler: string;
}

/** Every declared subscriber of a logical topic (explicit subscriptions and wildcard ones covering it). */
export function declaredSubscribersOf(declarations: readonly ServiceDeclaration[], topic: string): DeclaredSubscriber[] {
  const out: DeclaredSubscriber[] = [];
  for (const d of declarations) {
    for (const s of d.subscribes) {
      if (s.event.topic === topic) out.push({ service: d.service, subscriber: s.subscriber ?? d.service, handler: s.handler });
    }
    const w = d.subscribesAll;
    if (w && !(w.except ?? []).some((e) => e.topic === topic) && mqttFilterMatches(w.filter, toMqttTopic(topic))) {
      out.push({ service: d.service, subscriber: w.subscriber ?? d.service, handler: w.handler });
    }
  }
  return out;
}

/** Every consumer group a declaration uses (explicit subscriptions first, then the wildcard's). */
export function subscriberGroups(d: ServiceDeclaration): string[] {
  const groups = d.subscribes.map((s) => s.subscriber ?? d.service);
  if (d.subscribesAll) groups.push(d.subscribesAll.subscriber ?? d.service);
  return [...new Set(groups)];
}
