import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { defineEvent, eventSchema } from './index.js';
import { SCHEMA_DIR, compareSchemas, planSchemas, writeSchemas } from './node.js';

const v1 = defineEvent({
  context: 'booking',
  name: 'TestThing',
  version: 1,
  aggregateType: 'thing',
  description: 'test',
  aggregateId: (p) => p.id,
  payload: Type.Object({ id: Type.String(), kind: Type.Unsafe<string>({ type: 'string', enum: ['a', 'b'] }), size: Type.Integer() }),
});
const variant = (payload: ReturnType<typeof Type.Object>) => defineEvent({ ...v1, payload, aggregateId: () => 'x' });

test('an additive optional field is compatible', () => {
  const next = variant(Type.Object({ ...v1.payload.properties, note: Type.Optional(Type.String()) }));
  assert.deepEqual(compareSchemas(eventSchema(v1), eventSchema(next)), []);
});

test('breaking changes are each reported with their path', () => {
  const { size: _s, ...withoutSize } = v1.payload.properties;
  const cases: [ReturnType<typeof Type.Object>, RegExp][] = [
    [Type.Object(withoutSize), /\/payload\/size: field removed/],
    [Type.Object({ ...v1.payload.properties, size: Type.String() }), /\/payload\/size: type changed from integer to string/],
    [Type.Object({ ...v1.payload.properties, extra: Type.String() }), /\/payload\/extra: new required field/],
    [Type.Object({ ...v1.payload.properties, kind: Type.Unsafe<string>({ type: 'string', enum: ['a'] }) }), /enum value "b" removed/],
  ];
  for (const [payload, re] of cases) {
    const problems = compareSchemas(eventSchema(v1), eventSchema(variant(payload)));
    assert.ok(
      problems.some((p) => re.test(`${p.path}: ${p.message}`)),
      `${re} not in ${JSON.stringify(problems)}`,
    );
  }
});

test('planSchemas writes additive changes and refuses breaking ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schemas-'));
  try {
    writeSchemas([v1], planSchemas([v1], dir), dir);
    const additive = variant(Type.Object({ ...v1.payload.properties, note: Type.Optional(Type.String()) }));
    const plan = planSchemas([additive], dir);
    assert.deepEqual(plan.breaking, []);
    assert.deepEqual(plan.writes, [{ file: 'booking/TestThing.v1.schema.json', status: 'changed' }]);
    const breaking = variant(Type.Object({ ...v1.payload.properties, size: Type.String() }));
    assert.equal(planSchemas([breaking], dir).breaking.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function runCheck(dir: string) {
  return spawnSync(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'packages/events/scripts/schemas.ts', 'check', '--dir', dir],
    { encoding: 'utf8', cwd: new URL('../../..', import.meta.url).pathname },
  );
}

test('npm run schemas:check exits 1 on a breaking change and 0 on an additive one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schemas-'));
  try {
    cpSync(SCHEMA_DIR, dir, { recursive: true });
    const file = join(dir, 'booking/BookingCancelled.v1.schema.json');
    const original = readFileSync(file, 'utf8');
    const published = JSON.parse(original) as { properties: { payload: { properties: Record<string, unknown>; required: string[] } } };

    // The definitions "lost" a field the published file has → breaking.
    published.properties.payload.properties.refund_id = { type: 'string' };
    writeFileSync(file, JSON.stringify(published));
    const broken = runCheck(dir);
    assert.equal(broken.status, 1, broken.stdout + broken.stderr);
    assert.match(broken.stderr, /BREAKING .*BookingCancelled\.v1.*\n.*\/payload\/refund_id: field removed/);

    // The definitions gained an optional field the published file lacks → compatible.
    const older = JSON.parse(original) as typeof published;
    delete older.properties.payload.properties.cancelled_at;
    older.properties.payload.required = older.properties.payload.required.filter((r) => r !== 'cancelled_at');
    writeFileSync(file, JSON.stringify(older));
    const ok = runCheck(dir);
    // cancelled_at is required in the definition, so this is "optional became required"/new required: breaking.
    assert.equal(ok.status, 1);

    const withoutOptional = JSON.parse(
      readFileSync(join(SCHEMA_DIR, 'location/AlbergueCapacityChanged.v1.schema.json'), 'utf8'),
    ) as typeof published;
    delete withoutOptional.properties.payload.properties.previous_beds;
    writeFileSync(file, original);
    writeFileSync(join(dir, 'location/AlbergueCapacityChanged.v1.schema.json'), JSON.stringify(withoutOptional));
    const additive = runCheck(dir);
    assert.equal(additive.status, 0, additive.stdout + additive.stderr);
    assert.match(additive.stdout, /changed .*AlbergueCapacityChanged\.v1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
