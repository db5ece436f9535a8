// The catalog's model: who publishes and who consumes each event, with what policy, and the edges
// of the event graph (handlers' `emits`, services' `followUps`) that the value streams walk.
import type { EventDefinition } from '@albergue/events';
import { toMqttTopic } from '@albergue/events';
import type { ServiceDeclaration, SubscriptionPolicy } from '@albergue/messaging';
import { DEFAULT_POLICY, mergePolicy } from '@albergue/messaging';
import type { CatalogInput } from './input.js';

/** One consumer of one event: an explicit subscription or the event's share of a wildcard one. */
export interface Consumer {
  readonly service: string;
  readonly subscriber: string;
  readonly handler: string;
  readonly event: EventDefinition;
  /** DEFAULT_POLICY merged with the declaration's policy: what the runtime registers. */
  readonly policy: SubscriptionPolicy;
  readonly emits: readonly EventDefinition[];
  /** Set when the event is covered by a wildcard subscription (`subscribesAll`). */
  readonly wildcard?: string;
}

/** An edge of the event graph: after `from`, `service` publishes `to`. */
export interface Edge {
  readonly from: EventDefinition | 'any';
  readonly to: EventDefinition;
  readonly service: string;
  /** `handles`: the handler of `from` emits `to`; `later`: a follow-up (timer, HTTP command, callback). */
  readonly kind: 'handles' | 'later';
  /** The handler name, or what happens in between. */
  readonly label: string;
}

export interface CatalogModel {
  readonly input: CatalogInput;
  /** Sorted by topic. */
  readonly events: readonly EventDefinition[];
  /** Sorted by service name. */
  readonly services: readonly ServiceDeclaration[];
  readonly publishers: ReadonlyMap<string, readonly string[]>;
  /** Consumers by topic, sorted by service then handler. */
  readonly consumers: ReadonlyMap<string, readonly Consumer[]>;
  readonly edges: readonly Edge[];
  /** Declarations that name events the catalog does not know, publishers claimed twice, … */
  readonly problems: readonly string[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** MQTT filter matching (`+` one level, `#` the rest) of a topic in MQTT form. */
export function filterMatches(filter: string, mqttTopic: string): boolean {
  const f = filter.split('/');
  const t = mqttTopic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The events a wildcard subscription covers: every known event whose topic matches, minus `except`. */
export function coveredEvents(events: readonly EventDefinition[], w: NonNullable<ServiceDeclaration['subscribesAll']>): EventDefinition[] {
  const except = new Set((w.except ?? []).map((e) => e.topic));
  return events.filter((e) => filterMatches(w.filter, toMqttTopic(e.topic)) && !except.has(e.topic));
}

export function buildModel(input: CatalogInput): CatalogModel {
  const problems: string[] = [];
  const events = [...input.events].sort((a, b) => byString(a.topic, b.topic));
  const known = new Set(events.map((e) => e.topic));
  const services = [...input.declarations].sort((a, b) => byString(a.service, b.service));
  const check = (what: string, e: EventDefinition) => {
    if (!known.has(e.topic)) problems.push(`${what} names ${e.topic}, which is not a defined event`);
  };

  const publishers = new Map<string, string[]>();
  const consumers = new Map<string, Consumer[]>();
  const edges: Edge[] = [];
  for (const d of services) {
    for (const p of d.publishes) {
      check(`${d.service} publishes`, p);
      publishers.set(p.topic, [...(publishers.get(p.topic) ?? []), d.service]);
    }
    for (const s of d.subscribes) {
      check(`${d.service}'s subscription ${s.handler}`, s.event);
      for (const e of s.emits ?? []) check(`${d.service}'s handler ${s.handler} emits`, e);
      const c: Consumer = {
        service: d.service,
        subscriber: s.subscriber ?? d.service,
        handler: s.handler,
        event: s.event,
        policy: mergePolicy(DEFAULT_POLICY, s.policy),
        emits: s.emits ?? [],
      };
      consumers.set(s.event.topic, [...(consumers.get(s.event.topic) ?? []), c]);
      for (const to of c.emits) edges.push({ from: s.event, to, service: d.service, kind: 'handles', label: s.handler });
    }
    const w = d.subscribesAll;
    if (w) {
      for (const e of w.except ?? []) check(`${d.service}'s wildcard subscription ${w.handler} excepts`, e);
      for (const e of w.emits ?? []) check(`${d.service}'s handler ${w.handler} emits`, e);
      const covered = coveredEvents(events, w);
      if (covered.length === 0) problems.push(`${d.service}'s wildcard subscription ${w.filter} covers no defined event`);
      for (const event of covered) {
        const c: Consumer = {
          service: d.service,
          subscriber: w.subscriber ?? d.service,
          handler: w.handler,
          event,
          policy: mergePolicy(DEFAULT_POLICY, w.policy),
          emits: w.emits ?? [],
          wildcard: w.filter,
        };
        consumers.set(event.topic, [...(consumers.get(event.topic) ?? []), c]);
      }
      for (const to of w.emits ?? []) edges.push({ from: 'any', to, service: d.service, kind: 'handles', label: w.handler });
    }
    for (const f of d.followUps ?? []) {
      check(`${d.service}'s follow-up`, f.after);
      for (const to of f.leadsTo) {
        check(`${d.service}'s follow-up of ${f.after.name}`, to);
        edges.push({ from: f.after, to, service: d.service, kind: 'later', label: f.via });
      }
    }
  }
  for (const [topic, list] of consumers) {
    list.sort((a, b) => byString(a.service, b.service) || byString(a.handler, b.handler));
    const seen = new Set<string>();
    for (const c of list) {
      const key = `${c.subscriber} ${topic}`;
      if (seen.has(key)) problems.push(`subscriber ${c.subscriber} consumes ${topic} twice`);
      seen.add(key);
    }
  }
  for (const [topic, list] of publishers) if (list.length > 1) problems.push(`${topic} is published by ${list.join(' and ')}`);
  return { input, events, services, publishers, consumers, edges, problems };
}

/** Events no declared service publishes (their service is not declared yet). */
export function unpublishedEvents(model: CatalogModel): EventDefinition[] {
  return model.events.filter((e) => !model.publishers.has(e.topic));
}
