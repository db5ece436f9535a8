import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { ALL_EVENTS, fromCloudEvent, newEnvelope, parseEnvelope, toCloudEvent } from './index.js';
import { SAMPLE_PAYLOADS } from './node.js';

test('every event maps to a CloudEvent the SDK validates, and back to the same envelope', () => {
  for (const def of ALL_EVENTS) {
    const env = newEnvelope(def, (SAMPLE_PAYLOADS as Record<string, unknown>)[def.name] as never);
    const mapped = toCloudEvent(env, def.context);
    const ce = new CloudEvent(structuredClone(mapped) as never, true);
    assert.equal(ce.validate(), true);
    assert.equal(ce.type, def.topic);
    assert.equal(ce.source, `/albergue/${def.context}`);
    assert.equal(ce.subject, env.aggregate_id);
    assert.equal(ce.dataschema, def.schemaId);
    assert.equal(ce.correlationid, env.correlation_id);
    assert.equal(ce.causationid, env.causation_id);

    const wire = JSON.parse(JSON.stringify(ce.toJSON())) as unknown;
    const back = fromCloudEvent(wire);
    assert.ok(back.ok);
    const parsed = parseEnvelope(back.envelope);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    assert.deepEqual(parsed.event, env);
  }
});

test('fromCloudEvent lists what is wrong with a foreign CloudEvent', () => {
  const r = fromCloudEvent({ specversion: '0.3', type: 'com.example.thing', source: '/x', id: 1 });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const paths = r.problems.map((p) => p.path);
  for (const p of ['/specversion', '/type', '/id', '/subject']) assert.ok(paths.includes(p), `${p} missing in ${paths.join(',')}`);
  assert.equal(fromCloudEvent([1]).ok, false);
});
