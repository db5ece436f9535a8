// docs/CATALOG.md: rendered from the model only (no clock, no file system), so the same declarations
// give the same bytes.
import type { EventDefinition } from '@albergue/events';
import { toMqttTopic } from '@albergue/events';
import type { ServiceDeclaration, SubscriptionPolicy } from '@albergue/messaging';
import { exampleEnvelope } from './example.js';
import type { CatalogModel, Consumer } from './model.js';
import { unpublishedEvents } from './model.js';
import { payloadFields } from './schema-fields.js';
import { flowchart, sequenceDiagram, walkStream } from './streams.js';
import { tablesOf } from './tables.js';

/** Anchor of an event's section. */
export const eventAnchor = (e: EventDefinition): string => `event-${e.name.toLowerCase()}-v${e.version}`;
const serviceAnchor = (s: string): string => `service-${s}`;
const eventLink = (e: EventDefinition): string => `[${e.name} v${e.version}](#${eventAnchor(e)})`;
const serviceLink = (s: string): string => `[${s}](#${serviceAnchor(s)})`;

/** Free text in Markdown: `<` and `>` would start HTML (`albergue.<context>…`). Code spans are left alone. */
function text(s: string): string {
  return s
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replaceAll('<', '&lt;').replaceAll('>', '&gt;')))
    .join('');
}

/** A Markdown table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replaceAll('\n', ' ').replace(/(?<!\\)\|/g, '\\|');
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

/** `30000` → `30 s`, `86400000` → `24 h`. */
export function duration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000} min`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000} s`;
  return `${ms} ms`;
}

const backoffText = (p: SubscriptionPolicy): string =>
  `${duration(p.backoff.initialMs)} ×${p.backoff.multiplier} up to ${duration(p.backoff.maxMs)}, jitter ${p.backoff.jitter * 100} %`;
const breakerText = (p: SubscriptionPolicy): string =>
  `opens at ${p.breaker.failureThreshold} failed messages in ${duration(p.breaker.windowMs)}, open ${duration(p.breaker.openMs)}`;

function consumerName(c: Consumer): string {
  const group = c.subscriber === c.service ? '' : ` (subscriber ${c.subscriber})`;
  return `${serviceLink(c.service)}${group}`;
}

function consumerCell(c: Consumer): string {
  return `${c.service}${c.subscriber === c.service ? '' : `/${c.subscriber}`} (\`${c.handler}\`${c.wildcard ? `, via \`${c.wildcard}\`` : ''})`;
}

function overview(model: CatalogModel): string[] {
  const rows = model.events.map((e) => {
    const pubs = model.publishers.get(e.topic);
    const subs = model.consumers.get(e.topic) ?? [];
    return [
      eventLink(e),
      `\`${e.topic}\``,
      String(e.version),
      pubs ? pubs.join(', ') : '— (not declared yet)',
      subs.length > 0 ? subs.map(consumerCell).join('<br>') : 'none',
      `[${e.context}/${e.name}.v${e.version}](${model.input.schemaLink(e)})`,
    ];
  });
  return table(['Event', 'Topic', 'Version', 'Publisher', 'Subscribers', 'Schema'], rows);
}

function eventSection(model: CatalogModel, e: EventDefinition): string[] {
  const out: string[] = [];
  const pubs = model.publishers.get(e.topic);
  out.push(`<a id="${eventAnchor(e)}"></a>`, '', `### ${e.name} v${e.version}`, '', text(e.description), '');
  out.push(`- Topic: \`${e.topic}\` (MQTT \`${toMqttTopic(e.topic)}\`)`);
  out.push(`- Context: ${e.context}; aggregate: ${e.aggregateType}; schema id: \`${e.schemaId}\``);
  out.push(`- Published by: ${pubs ? pubs.map(serviceLink).join(', ') : `no declared service yet (context ${e.context})`}`);
  out.push(`- JSON Schema: [${e.context}/${e.name}.v${e.version}.schema.json](${model.input.schemaLink(e)})`, '');
  out.push('Payload:', '');
  const rows = payloadFields(model.input.schemaOf(e)).map((f) => [
    `\`${f.path}\``,
    f.type,
    f.required ? (f.optionalParent ? `yes, when \`${f.optionalParent}\` is present` : 'yes') : 'no',
    text(f.description),
  ]);
  out.push(...table(['Field', 'Type', 'Required', 'Description'], rows), '');
  const sample = model.input.samplePayloads[e.name];
  if (sample !== undefined) {
    out.push('Example envelope:', '', '```json', JSON.stringify(exampleEnvelope(e, sample), null, 2), '```', '');
  } else {
    out.push('Example envelope: no sample payload defined.', '');
  }
  const subs = model.consumers.get(e.topic) ?? [];
  if (subs.length === 0) {
    out.push('Subscribers: **none** — no declared service consumes this event yet.', '');
    return out;
  }
  out.push('Subscribers and their delivery policy (`DEFAULT_POLICY` merged with the declaration):', '');
  out.push(
    ...table(
      ['Subscriber', 'Handler', 'Emits', 'max_attempts', 'Visibility timeout', 'Backoff', 'Breaker', 'Dedup window'],
      subs.map((c) => [
        consumerName(c),
        `\`${c.handler}\`${c.wildcard ? ` (wildcard \`${c.wildcard}\`)` : ''}`,
        c.emits.length > 0 ? c.emits.map(eventLink).join(', ') : '—',
        String(c.policy.maxAttempts),
        duration(c.policy.visibilityTimeoutMs),
        backoffText(c.policy),
        breakerText(c.policy),
        duration(c.policy.dedupWindowMs),
      ]),
    ),
    '',
  );
  return out;
}

function serviceSection(model: CatalogModel, d: ServiceDeclaration): string[] {
  const out: string[] = [`<a id="${serviceAnchor(d.service)}"></a>`, '', `### ${d.service}`, ''];
  out.push(`Context \`${d.context}\`; MQTT account \`${d.service}\`.`, '');
  out.push(`Publishes: ${d.publishes.length > 0 ? d.publishes.map(eventLink).join(', ') : 'nothing'}.`, '');
  const subs = [...d.subscribes].sort((a, b) => (a.handler < b.handler ? -1 : a.handler > b.handler ? 1 : 0));
  if (subs.length === 0 && !d.subscribesAll) out.push('Subscribes to: nothing.', '');
  else {
    out.push('Subscribes to:', '');
    const rows = subs.map((s) => [
      eventLink(s.event),
      `\`${s.handler}\``,
      s.subscriber ?? d.service,
      (s.emits ?? []).length > 0 ? (s.emits ?? []).map(eventLink).join(', ') : '—',
    ]);
    const w = d.subscribesAll;
    if (w)
      rows.push([
        `every event on \`${w.filter}\`${(w.except ?? []).length > 0 ? ` except ${(w.except ?? []).map(eventLink).join(', ')}` : ''}`,
        `\`${w.handler}\``,
        w.subscriber ?? d.service,
        (w.emits ?? []).length > 0 ? (w.emits ?? []).map(eventLink).join(', ') : '—',
      ]);
    out.push(...table(['Event', 'Handler', 'Subscriber', 'Emits'], rows), '');
  }
  if ((d.followUps ?? []).length > 0) {
    out.push('Follow-ups (published later, on its own account):', '');
    out.push(
      ...table(
        ['After', 'Leads to', 'Via'],
        (d.followUps ?? []).map((f) => [eventLink(f.after), f.leadsTo.map(eventLink).join(', '), text(f.via)]),
      ),
      '',
    );
  }
  const routes = model.input.http[d.service];
  if (!routes) {
    out.push("HTTP entry points: not given to the catalog yet (export the service's whole HTTP API from `src/http.ts`).", '');
  } else {
    out.push('HTTP entry points:', '');
    out.push(
      ...table(
        ['Method', 'Path', 'Summary'],
        routes.map((r) => [
          r.method,
          `\`${r.path}\``,
          text(r.operational ? `${r.summary ?? operationalSummary(r.path)} (runtime)` : (r.summary ?? '')),
        ]),
      ),
      '',
    );
  }
  return out;
}

function operationalSummary(path: string): string {
  switch (path) {
    case '/health':
      return 'liveness and readiness';
    case '/metrics':
      return 'Prometheus metrics';
    case '/openapi.json':
      return 'OpenAPI document';
    default:
      return 'operations';
  }
}

function streamsSection(model: CatalogModel): string[] {
  const out: string[] = ['## Value streams', ''];
  out.push(
    'Walked through the declarations: a solid arrow is a handler that emits the next event (`emits`), a dotted one a',
    "follow-up the service publishes later on its own account (`followUps`: a timer, an HTTP command, a provider's",
    'callback). The streams and their milestones are declared in `scripts/value-streams.ts`.',
    '',
    '```mermaid',
    flowchart(model),
    '```',
    '',
  );
  for (const s of model.input.streams) {
    const walked = walkStream(model, s);
    out.push(`### ${s.name}`, '');
    out.push(
      `Started by: ${text(s.startedBy.actor)}, ${text(s.startedBy.action)}. Milestones: ${s.milestones
        .map((m) => (m === 'any' ? 'any event' : m.map(eventLink).join(' or ')))
        .join(' → ')}.`,
      '',
    );
    if (walked.gaps.length > 0) {
      out.push('Not declared yet (the stream renders as far as the declarations go):', '');
      for (const g of walked.gaps) out.push(`- ${text(g)}`);
      out.push('');
    } else out.push('Declared end to end.', '');
    out.push('```mermaid', sequenceDiagram(model, walked), '```', '');
  }
  return out;
}

function messagingStorage(model: CatalogModel): string[] {
  const out: string[] = ['## Redis keys and Postgres tables of the messaging', ''];
  out.push(
    'Redis (the delivery ledger, dead letters, breakers and the broker service; every key of the ledger is',
    'prefixed by its optional namespace). From the key definitions the code builds its keys with',
    '(`LEDGER_REDIS_KEYS` in packages/messaging, `BROKER_REDIS_KEYS` in services/broker). `{<subscriber>}` is a',
    'Redis Cluster hash tag: every key of one subscriber is in one slot (docs/scale-out.md).',
    '',
  );
  out.push(
    ...table(
      ['Key', 'Type', 'Holds', 'Owner'],
      model.input.redisKeys.map((k) => [`\`${k.pattern}\``, k.type, text(k.holds), k.owner]),
    ),
    '',
  );
  out.push(
    "Postgres: every service's own database has these tables besides the service's own, read from the",
    'migrations the runtime applies:',
    '',
  );
  for (const t of tablesOf(model.input.tables)) {
    out.push(`### \`${t.name}\``, '', `${t.owner}, ${t.origin}.`, '');
    out.push(
      ...table(
        ['Column', 'Definition', 'Note'],
        t.columns.map((c) => [`\`${c.name}\``, `\`${c.definition}\``, text(c.comment)]),
      ),
      '',
    );
  }
  return out;
}

function brokerSection(model: CatalogModel): string[] {
  const out: string[] = ['## Broker accounts and ACL', ''];
  out.push(
    'Derived from the declarations by `grantsFromDeclarations` (services/broker), the function the broker and the',
    'generated Mosquitto configuration use: each service publishes exactly what it declares, in its own context, and',
    "subscribes exactly to what it consumes; a client id must start with its account's prefix.",
    '',
  );
  const list = (xs: readonly string[]) => (xs.length > 0 ? xs.map((x) => `\`${x}\``).join('<br>') : '—');
  out.push(
    ...table(
      ['Account', 'Client ids', 'May publish', 'May subscribe'],
      [...model.input.accounts]
        .sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0))
        .map((a) => [`\`${a.username}\``, `\`${a.clientIdPrefix}…\``, list(a.publish), list(a.subscribe)]),
    ),
    '',
  );
  return out;
}

/** The whole of docs/CATALOG.md. */
export function renderCatalog(model: CatalogModel): string {
  const out: string[] = [
    '# Event catalog',
    '',
    '<!-- Generated by `npm run catalog` from the event definitions (packages/events) and the service declarations',
    '     (scripts/declarations.ts); do not edit. A test fails when this file and the code disagree. -->',
    '',
    'Who publishes what, who listens with what guarantees, and how the value streams run through the contexts.',
    "The same declarations wire the runtime and the broker's ACL. The AsyncAPI document of the same events is",
    '[asyncapi.yaml](asyncapi.yaml).',
    '',
    '## Contents',
    '',
    '- [Overview](#overview)',
    '- [Events](#events)',
    '- [Services](#services)',
    '- [Value streams](#value-streams)',
    '- [Redis keys and Postgres tables of the messaging](#redis-keys-and-postgres-tables-of-the-messaging)',
    '- [Broker accounts and ACL](#broker-accounts-and-acl)',
    '',
    '## Overview',
    '',
    ...overview(model),
    '',
  ];
  const missing = unpublishedEvents(model);
  if (missing.length > 0) {
    out.push(`Defined but published by no declared service yet: ${missing.map(eventLink).join(', ')}.`, '');
  }
  const unconsumed = model.events.filter((e) => (model.consumers.get(e.topic) ?? []).length === 0);
  if (unconsumed.length > 0) out.push(`No subscriber: ${unconsumed.map(eventLink).join(', ')}.`, '');
  out.push('## Events', '');
  for (const e of model.events) out.push(...eventSection(model, e));
  out.push('## Services', '');
  out.push(
    'Every state-changing HTTP route accepts `Idempotency-Key` and `x-correlation-id`; errors are RFC 9457 problems',
    '(docs/architecture.md, "HTTP conventions"). Routes marked (runtime) are added by packages/runtime to every service.',
    '',
  );
  for (const d of model.services) out.push(...serviceSection(model, d));
  out.push(...streamsSection(model), ...messagingStorage(model), ...brokerSection(model));
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
