import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parsePublicPath } from './path.js';
import { DEFAULT_POLICY, RoutePolicy } from './policy.js';
import { ATTACKER_SPELLINGS } from '../testing/attacker-spellings.js';

test('attacker spellings are refused as ambiguous (400), whatever they would normalise to', () => {
  for (const target of ATTACKER_SPELLINGS) {
    const d = parsePublicPath(target);
    assert.equal(d.ok, false, target);
    if (!d.ok) assert.equal(d.kind, 'ambiguous', `${target}: ${d.reason}`);
  }
});

test('upper case and other prefixes are not the API (404), never routed', () => {
  for (const target of [
    '/API/booking/bookings/b1',
    '/Api/booking/bookings/b1',
    '/api/BOOKING/bookings/b1',
    '/apix/booking/b',
    '/api',
    '/api/booking',
    '/',
    '/health/x',
  ]) {
    const d = parsePublicPath(target);
    assert.equal(d.ok, false, target);
  }
});

test('a plain path is split into decoded segments and forwarded canonically', () => {
  const d = parsePublicPath('/api/booking/guests/ana%20mar%C3%ADa/bookings?x=1&y=%2F');
  assert.ok(d.ok);
  assert.equal(d.path.context, 'booking');
  assert.deepEqual(d.path.segments, ['guests', 'ana maría', 'bookings']);
  assert.equal(d.path.upstreamPath, '/guests/ana%20mar%C3%ADa/bookings');
  assert.equal(d.path.query, 'x=1&y=%2F', 'the query goes as it came (the service validates it)');
  // Lower-case hex is the same text; the forwarded form is canonical.
  const lower = parsePublicPath('/api/booking/guests/ana%20mar%c3%ada/bookings');
  assert.ok(lower.ok);
  assert.equal(lower.path.upstreamPath, '/guests/ana%20mar%C3%ADa/bookings');
  // Sub-delimiters that are legal in a segment are re-encoded the one way the service decodes.
  const sub = parsePublicPath("/api/booking/bookings/a:b@c!$&'()*+,=");
  assert.ok(sub.ok);
  assert.equal(decodeURIComponent(sub.path.upstreamPath.split('/')[2]!), "a:b@c!$&'()*+,=");
});

test('the policy matches the checked segments: literal segments exactly, one parameter per segment', () => {
  const policy = new RoutePolicy(DEFAULT_POLICY);
  const at = (method: string, target: string) => {
    const d = parsePublicPath(target);
    assert.ok(d.ok, target);
    return policy.match(method, d.path);
  };
  assert.equal(at('GET', '/api/booking/guests/g-1/bookings')?.route, 'GET /api/booking/guests/{guest_id}/bookings');
  assert.deepEqual(at('GET', '/api/booking/guests/g-1/bookings')?.params, { guest_id: 'g-1' });
  assert.equal(at('HEAD', '/api/booking/bookings/b1')?.route, 'GET /api/booking/bookings/{booking_id}');
  assert.equal(at('DELETE', '/api/booking/bookings/b1'), undefined, 'deny by default');
  assert.equal(at('GET', '/api/booking/Bookings/b1'), undefined, 'case-sensitive');
  assert.equal(at('GET', '/api/booking/bookings/b1/extra'), undefined);
  assert.equal(at('GET', '/api/location/bookings/b1'), undefined, 'a route of another context');
  assert.equal(at('POST', '/api/payment/payments/callback')?.route, 'POST /api/payment/payments/callback');
  assert.deepEqual(policyMethods(policy, '/api/booking/bookings'), ['POST']);
  assert.throws(() => new RoutePolicy([...DEFAULT_POLICY, DEFAULT_POLICY[0]!]), /listed twice/);
  assert.throws(() => new RoutePolicy([{ method: 'GET', path: '/booking/x', scopes: ['guest'] }]), /\/api\/<context>/);
  assert.throws(() => new RoutePolicy([{ method: 'GET', path: '/api/booking/x', scopes: [] }]), /no scope/);
});

function policyMethods(policy: RoutePolicy, target: string): string[] {
  const d = parsePublicPath(target);
  assert.ok(d.ok);
  return policy.methodsFor(d.path);
}
