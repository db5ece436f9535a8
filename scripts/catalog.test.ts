// The committed catalog (docs/CATALOG.md, docs/asyncapi.yaml) against the system's code: it must be
// what `npm run catalog` generates now, and it must say what the declarations say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BookingCancelled, PaymentRefunded, ALL_EVENTS, parseEnvelope } from '@albergue/events';
import { declareService } from '@albergue/messaging';
import type { ServiceDeclaration } from '@albergue/messaging';
import { buildModel, coveredEvents, generateCatalog, unpublishedEvents, walkStream } from '@albergue/catalog';
import { brokenAnchors, brokenLinks, mermaidBlocks, parseAsyncApiFile, parseMermaid } from '@albergue/catalog/testing';
import { ASYNCAPI_FILE, CATALOG_FILE, DOCS_DIR, SERVICE_HTTP_APIS, systemCatalogInput } from './catalog.js';
import { SYSTEM_DECLARATIONS } from './declarations.js';
import { VALUE_STREAMS } from './value-streams.js';

/**
 * Events whose publishing service is not declared yet (other services are being added). Shrinking
 * allow-list: when a service joins SYSTEM_DECLARATIONS, remove its events here; once every service
 * exists it is empty and every event must have a publisher.
 */
const NOT_YET_PUBLISHED: string[] = [];

/** Declared services whose HTTP API the catalog cannot list yet (none: every service exports `src/http.ts`). */
const NO_HTTP_API_YET: string[] = [];

const input = await systemCatalogInput();
const generated = generateCatalog(input);

test('the committed docs/CATALOG.md and docs/asyncapi.yaml are what the code generates', () => {
  assert.deepEqual(generated.problems, []);
  for (const [file, text] of [
    [CATALOG_FILE, generated.markdown],
    [ASYNCAPI_FILE, generated.asyncapi],
  ] as const) {
    const committed = readFileSync(file, 'utf8');
    assert.ok(committed === text, `${file} is stale: run npm run catalog (and commit the result)`);
  }
});

test('adding or removing a subscription in a service declaration changes the generated catalog', async () => {
  const alter = (f: (d: ServiceDeclaration) => ServiceDeclaration) => SYSTEM_DECLARATIONS.map((d) => (d.service === 'payment' ? f(d) : d));
  const removed = generateCatalog(
    await systemCatalogInput(alter((d) => declareService({ ...d, subscribes: d.subscribes.filter((s) => s.event !== BookingCancelled) }))),
  );
  assert.notEqual(removed.markdown, generated.markdown);
  assert.notEqual(removed.asyncapi, generated.asyncapi);
  assert.match(generated.markdown, /closePaymentOnBookingCancelled/);
  assert.doesNotMatch(removed.markdown, /closePaymentOnBookingCancelled/);
  // The broker's ACL follows: payment may no longer subscribe to BookingCancelled.
  const aclRow = (md: string) => md.split('\n').find((l) => l.startsWith('| `payment` |'))!;
  assert.match(aclRow(generated.markdown), /albergue\/booking\/v1\/BookingCancelled/);
  assert.doesNotMatch(aclRow(removed.markdown), /albergue\/booking\/v1\/BookingCancelled/);

  const location = SYSTEM_DECLARATIONS.map((d) =>
    d.service === 'location' ? declareService({ ...d, subscribes: [{ event: PaymentRefunded, handler: 'noteOnPaymentRefunded' }] }) : d,
  );
  const added = generateCatalog(await systemCatalogInput(location));
  assert.match(added.markdown, /location \(`noteOnPaymentRefunded`\)/);
  assert.match(added.asyncapi, /location\.receive\.PaymentRefunded\.v1\.noteOnPaymentRefunded:/);
});

test('every defined event appears with a publisher, except the shrinking list of services not declared yet', () => {
  const model = buildModel(input);
  for (const e of ALL_EVENTS) assert.ok(generated.markdown.includes(`### ${e.name} v${e.version}\n`), `${e.name} has its section`);
  assert.deepEqual(
    unpublishedEvents(model)
      .map((e) => e.name)
      .sort(),
    [...NOT_YET_PUBLISHED].sort(),
    'a service that now publishes these was declared: remove its events from NOT_YET_PUBLISHED (and run npm run catalog)',
  );
});

test('every subscription names a defined event, and every emitted or follow-up event is defined too', () => {
  const defined = new Set<string>(ALL_EVENTS.map((e) => e.topic));
  for (const d of SYSTEM_DECLARATIONS) {
    for (const s of d.subscribes) {
      assert.ok(defined.has(s.event.topic), `${d.service}.${s.handler}: ${s.event.topic}`);
      for (const e of s.emits ?? []) assert.ok(defined.has(e.topic), `${d.service}.${s.handler} emits ${e.topic}`);
    }
    for (const f of d.followUps ?? [])
      for (const e of [f.after, ...f.leadsTo]) assert.ok(defined.has(e.topic), `${d.service} follow-up ${e.topic}`);
  }
});

test('every declared service lists its HTTP entry points from its own HTTP API', () => {
  const missing = SYSTEM_DECLARATIONS.map((d) => d.service).filter((s) => !(s in SERVICE_HTTP_APIS));
  assert.deepEqual(
    missing,
    NO_HTTP_API_YET,
    "export the service's whole HTTP API from src/http.ts and add it to SERVICE_HTTP_APIS in scripts/catalog.ts",
  );
  assert.match(generated.markdown, /\| POST \| `\/bookings` \| Reserve beds/);
  assert.match(generated.markdown, /\| POST \| `\/refunds\/:refund_id\/retry` \|/);
  assert.match(generated.markdown, /\| GET \| `\/health` \| liveness and readiness \(runtime\) \|/);
  assert.match(generated.markdown, /\| POST \| `\/documents` \| Submit a guest's identity document/);
  assert.match(generated.markdown, /\| DELETE \| `\/contacts\/:guest_id` \| Forget a guest's contact/);
  // The gateway: its own routes and one catch-all, none of them the runtime's.
  const gateway = generated.markdown.slice(generated.markdown.indexOf('<a id="service-gateway">'));
  const rows = gateway
    .slice(0, gateway.indexOf('<a id="service-', 10))
    .split('\n')
    .filter((l) => /^\| (ANY|GET|POST) \|/.test(l));
  assert.deepEqual(
    rows.map((l) => l.split(' | ').slice(0, 2).join(' | ')),
    ['| ANY | `/*`', '| GET | `/docs/`', '| GET | `/health`', '| GET | `/metrics`', '| GET | `/openapi.json`'],
  );
  assert.ok(
    rows.every((l) => !l.includes('(runtime)') && !l.endsWith('|  |')),
    'each gateway route has its summary',
  );
});

test('the value streams of ARCHITECTURE §1 run end to end through the declarations, the audit trail included', () => {
  const model = buildModel(input);
  const gaps = Object.fromEntries(VALUE_STREAMS.map((s) => [s.name, walkStream(model, s).gaps]));
  assert.deepEqual(gaps, {
    'reserve → pay → confirm → notify': [],
    'reserve → hold expires → notify': [],
    'reserve → payment fails → cancel → notify': [],
    'document submitted → validated/rejected → notify': [],
    'any event → audit trail': [],
  });
  // Hostile: without audit's `emits`, the audit trail is a gap again.
  const silent = SYSTEM_DECLARATIONS.map((d) =>
    d.subscribesAll ? declareService({ ...d, subscribesAll: { ...d.subscribesAll, emits: [] } }) : d,
  );
  const audit = VALUE_STREAMS.find((s) => s.name === 'any event → audit trail')!;
  assert.notDeepEqual(walkStream(buildModel({ ...input, declarations: silent }), audit).gaps, []);
  // The notify milestone is reached through notifications' handlers of the stream's last event.
  const confirm = walkStream(model, VALUE_STREAMS[0]!);
  assert.ok(confirm.edges.some((e) => e.service === 'notifications' && e.from !== 'any' && e.from.name === 'BookingConfirmed'));
});

test('docs/asyncapi.yaml parses with zero errors, offline, every message resolving its committed schema', async () => {
  const { errors, document } = await parseAsyncApiFile(ASYNCAPI_FILE);
  assert.deepEqual(errors, []);
  const doc = document as {
    messages(): { all(): { name(): string; payload(): { properties(): Record<string, unknown> } }[] };
    operations(): { all(): { action(): string }[] };
  };
  const messages = doc.messages().all();
  assert.equal(messages.length, ALL_EVENTS.length);
  for (const m of messages) assert.ok('payload' in m.payload().properties(), `${m.name()} resolved its schema`);
  const actions = doc
    .operations()
    .all()
    .map((o) => o.action());
  const publishes = SYSTEM_DECLARATIONS.reduce((n, d) => n + d.publishes.length, 0);
  // A wildcard subscription receives each event it covers (audit: every event but its own).
  const subscribes = SYSTEM_DECLARATIONS.reduce(
    (n, d) => n + d.subscribes.length + (d.subscribesAll ? coveredEvents(ALL_EVENTS, d.subscribesAll).length : 0),
    0,
  );
  assert.equal(actions.filter((a) => a === 'send').length, publishes);
  assert.equal(actions.filter((a) => a === 'receive').length, subscribes);
});

test('the Mermaid blocks of docs/CATALOG.md parse with Mermaid: one flowchart, one sequence per value stream', async () => {
  const blocks = mermaidBlocks(readFileSync(CATALOG_FILE, 'utf8'));
  const kinds: string[] = [];
  for (const b of blocks) kinds.push(await parseMermaid(b));
  assert.deepEqual(kinds, ['flowchart-v2', ...VALUE_STREAMS.map(() => 'sequence')]);
  // Alternatives are said: either document outcome, and each notify handler publishes either notification event.
  const documents = blocks.find((b) => b.includes('submits an identity document'))!;
  assert.match(documents, /Note over p_documents: either DocumentValidated or DocumentRejected/);
  for (const h of ['notifyGuestOnDocumentValidated', 'notifyGuestOnDocumentRejected'])
    assert.match(documents, new RegExp(`Note over p_notifications: ${h} publishes either NotificationSent or NotificationFailed`));
});

test('docs/CATALOG.md reads as Markdown: headings, tables, links to files that exist, anchors that exist', () => {
  const md = readFileSync(CATALOG_FILE, 'utf8');
  for (const h of [
    '# Event catalog',
    '## Overview',
    '## Events',
    '## Services',
    '## Value streams',
    '## Redis keys and Postgres tables of the messaging',
    '## Broker accounts and ACL',
  ])
    assert.ok(md.includes(`${h}\n`), h);
  for (const s of VALUE_STREAMS) assert.ok(md.includes(`### ${s.name}\n`), s.name);
  assert.ok((md.match(/^\|---/gm) ?? []).length >= ALL_EVENTS.length, 'tables');
  assert.deepEqual(brokenLinks(md, DOCS_DIR), []);
  assert.deepEqual(brokenAnchors(md), []);
  for (const e of ALL_EVENTS)
    assert.ok(md.includes(`](../packages/events/schemas/${e.context}/${e.name}.v${e.version}.schema.json)`), e.name);
  // Every example envelope is a valid event.
  for (const m of md.matchAll(/Example envelope:\n\n```json\n([\s\S]*?)\n```/g)) {
    const r = parseEnvelope(m[1]!);
    assert.ok(r.ok, r.ok ? '' : r.reason);
  }
  assert.equal([...md.matchAll(/Example envelope:\n\n```json/g)].length, ALL_EVENTS.length);
});
