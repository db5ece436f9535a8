import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuditLogged,
  BookingConfirmed,
  BookingReserved,
  NotificationSent,
  PaymentFailed,
  PaymentInitiated,
  eventSchema,
  parseEnvelope,
} from '@albergue/events';
import type { ServiceDeclaration } from '@albergue/messaging';
import { DEFAULT_POLICY, declareService } from '@albergue/messaging';
import { buildModel, generateCatalog, payloadFields, walkStream } from './index.js';
import { exampleEnvelope } from './example.js';
import { tablesOf } from './tables.js';
import { brokenAnchors, mermaidBlocks, parseAsyncApiFile, parseMermaid } from './testing/index.js';
import { FULL_SYSTEM, STREAMS, catalogInput } from './testing/fixtures.js';

const without = (service: string, f: (d: ServiceDeclaration) => ServiceDeclaration): ServiceDeclaration[] =>
  FULL_SYSTEM.map((d) => (d.service === service ? f(d) : d));

test('the catalog is a pure function of its input: same input, same bytes, whatever the declaration order', () => {
  const a = generateCatalog(catalogInput(FULL_SYSTEM));
  const b = generateCatalog(catalogInput([...FULL_SYSTEM].reverse()));
  assert.equal(a.markdown, b.markdown);
  assert.equal(a.asyncapi, b.asyncapi);
  assert.deepEqual(a.problems, []);
  assert.doesNotMatch(a.markdown, /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z.*generated/i);
});

test('removing a subscription from a declaration removes it from the catalog and the AsyncAPI document', () => {
  const full = generateCatalog(catalogInput(FULL_SYSTEM));
  const fewer = without('payment', (d) => declareService({ ...d, subscribes: [] }));
  const cut = generateCatalog(catalogInput(fewer));
  assert.notEqual(cut.markdown, full.markdown);
  assert.match(full.markdown, /payment \(`initiatePaymentOnBookingReserved`\)/);
  assert.doesNotMatch(cut.markdown, /initiatePaymentOnBookingReserved/);
  assert.match(full.asyncapi, /payment\.receive\.BookingReserved\.v1\.initiatePaymentOnBookingReserved:/);
  assert.doesNotMatch(cut.asyncapi, /initiatePaymentOnBookingReserved/);
  // …and the stream through it now stops where the declarations stop.
  assert.match(cut.markdown, /BookingReserved → PaymentConfirmed: no declared service subscribes to BookingReserved yet/);
});

test('adding a subscription adds the subscriber, its policy and its receive operation', () => {
  const more = without('gateway', (d) =>
    declareService({
      ...d,
      subscribes: [{ event: BookingReserved, handler: 'watchOnBookingReserved', policy: { maxAttempts: 3, visibilityTimeoutMs: 5000 } }],
    }),
  );
  const g = generateCatalog(catalogInput(more));
  assert.match(
    g.markdown,
    /\| \[gateway\]\(#service-gateway\) \| `watchOnBookingReserved` \| — \| 3 \| 5 s \| 200 ms ×2 up to 30 s, jitter 20 % \|/,
  );
  assert.match(g.asyncapi, /gateway\.receive\.BookingReserved\.v1\.watchOnBookingReserved:/);
  assert.deepEqual(g.problems, []);
});

test('an event with no subscriber is listed as such, in the overview and in its section', () => {
  const g = generateCatalog(catalogInput(FULL_SYSTEM));
  // Audit's wildcard subscription covers every event but its own AuditLogged.
  const overviewRow = g.markdown.split('\n').find((l) => l.startsWith(`| [${AuditLogged.name} v1]`));
  assert.ok(overviewRow, 'overview row of AuditLogged');
  assert.match(overviewRow, /\| audit \| none \|/);
  assert.match(g.markdown, /No subscriber: \[AuditLogged v1\]\(#event-auditlogged-v1\)\.\n/);
  const section = g.markdown.slice(g.markdown.indexOf('### AuditLogged v1'));
  assert.match(section.slice(0, section.indexOf('<a id=')), /Subscribers: \*\*none\*\*/);
});

test('a wildcard subscription covers every matching event except its exceptions, with its own policy', () => {
  const withPolicy = without('audit', (d) => declareService({ ...d, subscribesAll: { ...d.subscribesAll!, policy: { maxAttempts: 20 } } }));
  const model = buildModel(catalogInput(withPolicy));
  for (const e of model.events) {
    const audit = (model.consumers.get(e.topic) ?? []).filter((c) => c.service === 'audit');
    if (e.topic === AuditLogged.topic) assert.deepEqual(audit, [], 'audit does not consume its own AuditLogged');
    else {
      assert.equal(audit.length, 1, `audit covers ${e.topic}`);
      assert.equal(audit[0]!.wildcard, 'albergue/#');
      assert.equal(audit[0]!.policy.maxAttempts, 20);
      assert.equal(audit[0]!.policy.visibilityTimeoutMs, DEFAULT_POLICY.visibilityTimeoutMs);
    }
  }
  const md = generateCatalog(catalogInput(withPolicy)).markdown;
  assert.match(md, /audit \(`recordOnAnyEvent`, via `albergue\/#`\)/);
  // A narrower filter covers only its context.
  const narrow = without('audit', (d) => declareService({ ...d, subscribesAll: { ...d.subscribesAll!, filter: 'albergue/payment/+/+' } }));
  const covered = buildModel(catalogInput(narrow)).events.filter((e) =>
    (buildModel(catalogInput(narrow)).consumers.get(e.topic) ?? []).some((c) => c.service === 'audit'),
  );
  assert.deepEqual(
    covered.map((e) => e.context).filter((c) => c !== 'payment'),
    [],
  );
  assert.equal(covered.length, 4);
});

test('declarations that contradict the definitions are problems, not a silent catalog', () => {
  const ghost = { ...BookingReserved, topic: 'albergue.booking.v9.Ghost', name: 'Ghost' };
  const bad = without('payment', (d) => declareService({ ...d, subscribes: [{ event: ghost, handler: 'hauntOnGhost' }] }));
  assert.deepEqual(generateCatalog(catalogInput(bad)).problems, [
    "payment's subscription hauntOnGhost names albergue.booking.v9.Ghost, which is not a defined event",
  ]);
  const twice = without('audit', (d) =>
    declareService({ ...d, subscribes: [{ event: BookingReserved, handler: 'recordOnBookingReserved' }] }),
  );
  assert.deepEqual(generateCatalog(catalogInput(twice)).problems, [`subscriber audit consumes ${BookingReserved.topic} twice`]);
  // declareService refuses a handler that would emit what the service does not publish.
  assert.throws(
    () =>
      declareService({
        service: 'payment',
        context: 'payment',
        publishes: [PaymentInitiated],
        subscribes: [{ event: BookingReserved, handler: 'x', emits: [BookingConfirmed] }],
      }),
    /handler x leads to albergue\.booking\.v1\.BookingConfirmed, which payment does not publish/,
  );
  assert.throws(
    () =>
      declareService({
        service: 'payment',
        context: 'payment',
        publishes: [PaymentInitiated],
        subscribes: [],
        followUps: [{ after: PaymentInitiated, leadsTo: [PaymentFailed], via: 'later' }],
      }),
    /does not publish/,
  );
});

test('value streams walk the declarations end to end, or say what is not declared yet', () => {
  const model = buildModel(catalogInput(FULL_SYSTEM));
  for (const s of STREAMS) assert.deepEqual(walkStream(model, s).gaps, [], s.name);
  const pay = walkStream(model, STREAMS[0]!);
  assert.deepEqual(
    pay.edges.map((e) => `${e.from === 'any' ? 'any' : e.from.name}→${e.to.name} (${e.service})`),
    [
      'BookingReserved→PaymentInitiated (payment)',
      'PaymentInitiated→PaymentConfirmed (payment)',
      'PaymentConfirmed→BookingConfirmed (booking)',
      'BookingConfirmed→NotificationSent (notifications)',
      'BookingConfirmed→NotificationFailed (notifications)',
    ],
  );
  const audit = walkStream(model, STREAMS[3]!);
  assert.deepEqual(
    audit.edges.map((e) => `${e.service}:${e.label}`),
    ['audit:recordOnAnyEvent'],
  );
  // Without notifications the notify milestone is a gap naming the missing context.
  const partial = buildModel(catalogInput(FULL_SYSTEM.filter((d) => d.service !== 'notifications' && d.service !== 'audit')));
  assert.deepEqual(walkStream(partial, STREAMS[0]!).gaps, [
    'BookingConfirmed → NotificationSent or NotificationFailed: no declared service publishes NotificationSent or NotificationFailed (context notifications not declared yet)',
  ]);
  assert.match(
    walkStream(partial, STREAMS[3]!).gaps.join('\n'),
    /no declared service publishes AuditLogged \(context audit not declared yet\)/,
  );
  // Publisher declared, but no handler leads there.
  const deaf = buildModel(catalogInput(without('notifications', (d) => declareService({ ...d, subscribes: [] }))));
  assert.deepEqual(walkStream(deaf, STREAMS[2]!).gaps, [
    'DocumentValidated or DocumentRejected → NotificationSent or NotificationFailed: no declared service subscribes to DocumentValidated or DocumentRejected yet',
  ]);
  // An audit service that declares no wildcard subscription.
  const blind = buildModel(
    catalogInput(
      without('audit', (d) => declareService({ service: d.service, context: d.context, publishes: d.publishes, subscribes: [] })),
    ),
  );
  assert.match(walkStream(blind, STREAMS[3]!).gaps[0]!, /no declared service subscribes to every event \(subscribesAll\)/);
});

test('every Mermaid block parses with Mermaid itself, hostile labels included', async () => {
  const hostile = without('booking', (d) =>
    declareService({
      ...d,
      followUps: [{ after: BookingReserved, leadsTo: [BookingConfirmed], via: 'a "quoted"; #hash <b>html</b> | pipe {x} end' }],
    }),
  );
  for (const decls of [FULL_SYSTEM, hostile, FULL_SYSTEM.slice(0, 3)]) {
    const md = generateCatalog(catalogInput(decls)).markdown;
    const blocks = mermaidBlocks(md);
    assert.equal(blocks.length, 1 + STREAMS.length);
    const kinds = [];
    for (const b of blocks) kinds.push(await parseMermaid(b));
    assert.deepEqual(kinds, ['flowchart-v2', ...STREAMS.map(() => 'sequence')]);
  }
  // The parser really refuses broken diagrams (the check is not vacuous).
  await assert.rejects(parseMermaid('flowchart LR\n  A -->'));
  await assert.rejects(parseMermaid('sequenceDiagram\n  actor Actor as x\n  Actor->>B: hi'));
});

test('the AsyncAPI document parses with zero errors and resolves the schemas by relative path, offline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-asyncapi-'));
  try {
    const file = join(dir, 'asyncapi.yaml');
    writeFileSync(file, generateCatalog(catalogInput(FULL_SYSTEM, dir)).asyncapi);
    const { errors, document } = await parseAsyncApiFile(file);
    assert.deepEqual(errors, []);
    const doc = document as {
      messages(): { all(): { name(): string; payload(): { properties(): Record<string, unknown> } }[] };
      operations(): { all(): unknown[] };
    };
    const messages = doc.messages().all();
    assert.equal(messages.length, 16);
    for (const m of messages) assert.ok('payload' in m.payload().properties(), `${m.name()}: the $ref resolved to the envelope schema`);
    // A schema that is not there is an error (the check is real).
    writeFileSync(file, generateCatalog(catalogInput(FULL_SYSTEM, dir, { schemaLink: (def) => `missing/${def.name}.json` })).asyncapi);
    const broken = await parseAsyncApiFile(file);
    assert.ok(broken.errors.length > 0);
    assert.match(broken.errors.map((e) => e.message).join('\n'), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('payload fields: nested objects as dotted paths, arrays, required-ness under optional parents', () => {
  const rows = payloadFields(eventSchema(BookingReserved));
  const byPath = new Map(rows.map((r) => [r.path, r]));
  assert.equal(byPath.get('guest.email')?.required, true);
  assert.match(byPath.get('guest.email')!.type, /format email/);
  assert.match(byPath.get('total.amount_minor')!.type, /^integer \(≥ 0\)$/);
  assert.equal(byPath.get('beds')?.type, 'integer (1..50)');
  const nested = payloadFields({
    properties: {
      payload: {
        type: 'object',
        required: ['items'],
        properties: {
          opt: { type: 'object', required: ['inner'], properties: { inner: { type: 'string' } } },
          items: { type: 'array', items: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } },
          either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        },
      },
    },
  });
  assert.deepEqual(
    nested.map((r) => [r.path, r.type, r.required, r.optionalParent ?? '']),
    [
      ['opt', 'object', false, ''],
      ['opt.inner', 'string', true, 'opt'],
      ['items', 'array of object', true, ''],
      ['items[].n', 'integer', true, ''],
      ['either', 'string \\| null', false, ''],
    ],
  );
});

test('example envelopes are valid events, stable from run to run', () => {
  const model = buildModel(catalogInput(FULL_SYSTEM));
  for (const e of model.events) {
    const env = exampleEnvelope(e, model.input.samplePayloads[e.name]);
    const parsed = parseEnvelope(JSON.stringify(env), { topic: e.topic });
    assert.ok(parsed.ok, `${e.name}: ${parsed.ok ? '' : parsed.reason}`);
    assert.deepEqual(exampleEnvelope(e, model.input.samplePayloads[e.name]), env);
  }
  assert.notEqual(exampleEnvelope(BookingReserved, {}).event_id, exampleEnvelope(NotificationSent, {}).event_id);
});

test('tables are read from the migration SQL: columns, definitions, comments', () => {
  const [t] = tablesOf([
    {
      owner: 'x',
      origin: 'm1',
      sql: `CREATE TABLE IF NOT EXISTS things (
  -- the key
  id bigint PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('a', 'b')), -- a or b
  at timestamptz -- when
);
CREATE INDEX things_at ON things (at);`,
    },
  ]);
  assert.equal(t?.name, 'things');
  assert.deepEqual(
    t.columns.map((c) => [c.name, c.definition, c.comment]),
    [
      ['id', 'bigint PRIMARY KEY', 'the key'],
      ['state', "text NOT NULL CHECK (state IN ('a', 'b'))", 'a or b'],
      ['at', 'timestamptz', 'when'],
    ],
  );
});

test('the Markdown has its sections, tables and working anchors', () => {
  const md = generateCatalog(catalogInput(FULL_SYSTEM)).markdown;
  for (const h of ['# Event catalog', '## Overview', '## Events', '## Services', '## Value streams', '## Broker accounts and ACL'])
    assert.ok(md.includes(`\n${h}\n`) || md.startsWith(`${h}\n`), h);
  assert.deepEqual(brokenAnchors(md), []);
  assert.ok(md.includes('| Event | Topic | Version | Publisher | Subscribers | Schema |'));
  assert.doesNotMatch(md.replace(/`[^`\n]*`/g, ''), /<(subscriber|topic|context)>/, 'placeholders outside code are escaped');
});
