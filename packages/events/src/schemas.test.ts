import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ALL_EVENTS, newEnvelope, schemaFileName } from './index.js';
import { SAMPLE_PAYLOADS, SCHEMA_DIR, planSchemas } from './node.js';
import type { EventDefinition } from './index.js';
import { createAjv } from './validation.js';

const files = readdirSync(SCHEMA_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.schema.json'));

test('one committed schema file per event version, and they match the definitions (no drift)', () => {
  assert.equal(ALL_EVENTS.length, 16);
  assert.equal(files.length, ALL_EVENTS.length);
  const plan = planSchemas(ALL_EVENTS);
  assert.deepEqual(plan, { writes: [], orphans: [], breaking: [] }, 'committed schemas are stale: run `npm run schemas` and commit');
});

function sampleFor(def: EventDefinition): Record<string, unknown> {
  const payload = (SAMPLE_PAYLOADS as Record<string, unknown>)[def.name];
  return structuredClone(newEnvelope(def, payload as never)) as unknown as Record<string, unknown>;
}

for (const def of ALL_EVENTS) {
  test(`${schemaFileName(def)} accepts a sample and rejects broken ones`, () => {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, schemaFileName(def)), 'utf8')) as { $id: string };
    assert.match(schema.$id, /^urn:albergue:event:/);
    const validate = createAjv().compile(schema);
    const good = sampleFor(def);
    assert.ok(validate(good), JSON.stringify(validate.errors));

    const payload = good.payload as Record<string, unknown>;
    const firstRequired = Object.keys(payload)[0]!;
    const { [firstRequired]: _dropped, ...missing } = payload;
    assert.equal(validate({ ...good, payload: missing }), false, 'missing payload field accepted');
    assert.equal(validate({ ...good, payload: { ...payload, [firstRequired]: 12345 } }), false, 'wrong type accepted');
    assert.equal(validate({ ...good, unexpected: true }), false, 'extra top-level field accepted');
    assert.equal(validate({ ...good, event_id: 'not-a-uuid' }), false, 'malformed event_id accepted');
    assert.equal(validate({ ...good, event_id: '6f1c8a52-3b7e-4c1a-9d2e-1f2a3b4c5d6e' }), false, 'UUIDv4 accepted as event_id');
    assert.equal(validate({ ...good, occurred_at: '2027-04-20T10:00:00+02:00' }), false, 'non-UTC occurred_at accepted');
  });
}
