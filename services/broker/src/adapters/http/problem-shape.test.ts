// Every broker HTTP error is an RFC 9457 problem (issue 9, agreed shape). The operations come from the
// broker's own OpenAPI document; each is tried without a token and with bad input.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningBroker } from '../../start.js';
import { ADMIN_TOKEN, startTestBroker } from '../../testing/harness.js';

let broker: RunningBroker;
before(async () => {
  broker = await startTestBroker({ wsPort: null });
});
after(async () => {
  await broker.close();
});

interface Operation {
  method: string;
  path: string;
  hasBody: boolean;
  query: string[];
  params: string[];
}

async function operations(): Promise<Operation[]> {
  const spec = (await (await fetch(`${broker.httpUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[] }>>;
  };
  return Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      hasBody: op.requestBody !== undefined,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      params: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
    })),
  );
}

/** Asserts the agreed problem shape and returns the body. */
async function assertProblem(
  res: Response,
  status: number | readonly number[],
  what: string,
): Promise<{ code: string; errors?: { path: string }[] }> {
  const statuses = [status].flat();
  assert.ok(statuses.includes(res.status), `${what}: ${res.status}, expected ${statuses.join(' or ')}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', what);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(typeof body.code, 'string', what);
  assert.match(body.code as string, /^[a-z][a-z0-9_]*$/, `${what}: snake_case code`);
  assert.equal(body.type, `urn:albergue:problem:${String(body.code)}`, what);
  assert.equal(typeof body.title, 'string', what);
  assert.equal(body.status, res.status, what);
  assert.ok(typeof body.detail === 'string' && body.detail.length > 0, what);
  for (const key of Object.keys(body))
    assert.ok(['type', 'title', 'status', 'detail', 'code', 'errors'].includes(key), `${what}: unexpected field ${key}`);
  if (body.errors !== undefined) {
    assert.ok(Array.isArray(body.errors) && body.errors.length > 0, what);
    for (const e of body.errors as Record<string, unknown>[]) {
      assert.match(String(e.path), /^\/(body|query|params|headers)(\/|$)/, `${what}: JSON Pointer into the request`);
      assert.equal(typeof e.message, 'string', what);
      assert.equal(typeof e.code, 'string', what);
    }
  }
  return body as { code: string; errors?: { path: string }[] };
}

const fill = (path: string, value: string) => path.replace(/\{[^}]+\}/g, encodeURIComponent(value));

test('the OpenAPI document lists the admin operations', async () => {
  const ops = await operations();
  assert.ok(ops.length >= 15, `${ops.length} operations`);
  assert.ok(ops.some((o) => o.method === 'DELETE' && o.path === '/api/mqtt/retained'));
  assert.ok(ops.some((o) => o.method === 'DELETE' && o.path === '/api/mqtt/subscriptions/{subscriber}'));
});

test('without a token every documented admin operation answers a 401 problem', async () => {
  for (const op of (await operations()).filter((o) => o.path.startsWith('/api/'))) {
    const res = await fetch(`${broker.httpUrl}${fill(op.path, 'x')}`, {
      method: op.method,
      ...(op.hasBody ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
    });
    const p = await assertProblem(res, 401, `${op.method} ${op.path}`);
    assert.equal(p.code, 'unauthorized');
    assert.equal(p.errors?.[0]?.path, '/headers/authorization');
  }
});

test('bad input to every documented operation that takes input is a 4xx problem pointing into the request', async () => {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  let checked = 0;
  for (const op of (await operations()).filter((o) => o.path.startsWith('/api/'))) {
    const what = `${op.method} ${op.path}`;
    if (op.hasBody) {
      for (const [body, type, status] of [
        ['[]', 'application/json', 400],
        ['{"a":', 'application/json', 400],
        ['x=1', 'application/x-www-form-urlencoded', 415],
        ['{}', 'text/plain', 415],
      ] as const) {
        const res = await fetch(`${broker.httpUrl}${fill(op.path, 'albergue.booking.v1.BookingReserved')}`, {
          method: op.method,
          headers: { ...auth, 'content-type': type },
          body,
        });
        await assertProblem(res, status, `${what} body ${body} as ${type}`);
        checked++;
      }
      const tooBig = await fetch(`${broker.httpUrl}${fill(op.path, 'albergue.booking.v1.BookingReserved')}`, {
        method: op.method,
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(300 * 1024) }),
      });
      await assertProblem(tooBig, 413, `${what} oversized body`);
    }
    if (op.params.length > 0) {
      const res = await fetch(`${broker.httpUrl}${fill(op.path, 'x'.repeat(1000))}`, {
        method: op.method,
        headers: { ...auth, ...(op.hasBody ? { 'content-type': 'application/json' } : {}) },
        ...(op.hasBody ? { body: '{}' } : {}),
      });
      // Longer than the router's limit for a parameter: 414 before any route; a shorter one over the
      // schema's maxLength: 400 pointing at the parameter.
      await assertProblem(res, 414, `${what} with a 1,000-character path parameter`);
      const res2 = await fetch(`${broker.httpUrl}${fill(op.path, 'Bad Name!'.repeat(10))}`, {
        method: op.method,
        headers: { ...auth, ...(op.hasBody ? { 'content-type': 'application/json' } : {}) },
        ...(op.hasBody ? { body: '{}' } : {}),
      });
      const p = await assertProblem(res2, [400, 404], `${what} with a bad path parameter`);
      if (res2.status === 400)
        assert.ok(
          p.errors?.some((e) => e.path.startsWith('/params/')),
          what,
        );
      checked++;
    }
    if (op.query.length > 0) {
      const res = await fetch(`${broker.httpUrl}${fill(op.path, 'reports')}?${op.query[0]}=${'%7F'.repeat(2)}&zz_unknown=1`, {
        method: op.method,
        headers: { ...auth, ...(op.hasBody ? { 'content-type': 'application/json' } : {}) },
        ...(op.hasBody ? { body: '{}' } : {}),
      });
      const p = await assertProblem(res, 400, `${what} with a bad query`);
      assert.ok(
        p.errors?.some((e) => e.path.startsWith('/query')),
        `${what}: ${JSON.stringify(p.errors)}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 30, `${checked} bad inputs`);
  const missing = await fetch(`${broker.httpUrl}/api/mqtt/nope`, { headers: auth });
  assert.equal((await assertProblem(missing, 404, 'unknown route')).code, 'not_found');
});
