// A valid envelope carrying a field nested 10,000 levels deep, published over the broker's HTTP API:
// a 4xx with the reason (it was a 503: parseEnvelope threw), and the broker keeps publishing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, startTestBroker } from '../../testing/harness.js';
import { bookingReserved } from '../../testing/fixtures.js';

let broker: RunningBroker;
const headers = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` };

before(async () => {
  broker = await startTestBroker({ wsPort: null, bodyLimit: 256 * 1024 });
});
after(async () => {
  await broker.close();
});

test('publish over HTTP: a field nested 10,000 levels deep is a 4xx naming the depth limit; a valid publish still works', async () => {
  const deep = JSON.stringify(bookingReserved()).replace('"payload":{', `"payload":{"x":${'{"a":'.repeat(10_000)}{}${'}'.repeat(10_000)},`);
  const res = await fetch(`${broker.httpUrl}/api/mqtt/publish`, { method: 'POST', headers, body: deep });
  const text = await res.text();
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}: ${text.slice(0, 200)}`);
  assert.match(text, /nested deeper than the limit of 64 levels/);
  const ok = await fetch(`${broker.httpUrl}/api/mqtt/publish`, { method: 'POST', headers, body: JSON.stringify(bookingReserved()) });
  assert.equal(ok.status, 202);
});
