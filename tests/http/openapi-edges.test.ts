// Every route of every service and of the broker's admin API, taken from their own /openapi.json (never a hand list):
// NUL and lone-surrogate variants of each body field, query parameter and path parameter → 4xx with
// the RFC 9457 problem shape naming the field, never 5xx; plus the framework errors on every route
// (malformed JSON, wrong media type, wrong method) in the same shape. Real Postgres per service.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createBookingService } from '@albergue/booking/service';
import { createDocumentsService } from '@albergue/documents/service';
import { createLocationService } from '@albergue/location/service';
import { PgDatabase, quoteIdent } from '@albergue/outbox';
import { createPaymentService } from '@albergue/payment/service';
import { expectProblem, uniqueName } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import type { RunningBroker } from '@albergue/broker';
import { OBSERVER_ACCOUNT, devPassword, startBroker } from '@albergue/broker';
import { bookingDeclaration } from '@albergue/booking/declaration';
import { documentsDeclaration } from '@albergue/documents/declaration';
import { locationDeclaration } from '@albergue/location/declaration';
import { paymentDeclaration } from '@albergue/payment/declaration';

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

type Schema = {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  enum?: unknown[];
  minimum?: number;
  default?: unknown;
  pattern?: string;
};
interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
}

/** A value the schema accepts (the variants then break one string in it). */
function sample(s: Schema): unknown {
  if (s.anyOf?.[0]) return sample(s.anyOf[0]);
  if (s.enum?.length) return s.enum[0];
  if (s.default !== undefined) return s.default;
  switch (s.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) if (s.required?.includes(k)) out[k] = sample(v);
      return out;
    }
    case 'integer':
    case 'number':
      return Math.max(1, s.minimum ?? 1);
    case 'boolean':
      return true;
    case 'array':
      return [];
    default:
      if (s.format === 'date') return '2030-01-01';
      if (s.format === 'email') return 'ana@example.org';
      if (s.format === 'uuid') return '01890a5d-ac96-774b-bcce-b302099a8057';
      if (s.pattern?.startsWith('^[a-z]')) return 'abc';
      if (s.pattern === '^[A-Z]{3}$') return 'EUR';
      return 'x1';
  }
}

/** JSON Pointers (under the body) of every string field, optional ones included, with the body to put them in. */
function stringFields(s: Schema, path: string[] = []): string[][] {
  if (s.anyOf?.[0]) return stringFields(s.anyOf[0], path);
  if (s.type === 'object') return Object.entries(s.properties ?? {}).flatMap(([k, v]) => stringFields(v, [...path, k]));
  return s.type === 'string' && !s.enum ? [path] : [];
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

// The bad text as it travels: inside JSON (escapes), and in a URL (percent-encoded bytes).
const JSON_VARIANTS = [
  { name: 'NUL', json: '"a\\u0000b"', code: 'nul_character' },
  { name: 'lone high surrogate', json: '"a\\ud800b"', code: 'lone_surrogate' },
  { name: 'lone low surrogate', json: '"\\udc00"', code: 'lone_surrogate' },
];
const URL_VARIANTS = [
  { name: 'NUL', raw: 'a%00b' },
  { name: 'CESU-8 surrogate bytes', raw: 'a%ED%A0%80b' },
  { name: 'lone low surrogate bytes', raw: '%ED%B0%80' },
  { name: 'truncated UTF-8', raw: 'a%E0%A4' },
];
const MARK = '"__BAD__"';

interface Res {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  json<T>(): T;
}

/** A real HTTP request over loopback (the services listen on a free port each). */
async function request(
  base: string,
  method: string,
  url: string,
  o: { headers?: Record<string, string>; payload?: string } = {},
  auth: Record<string, string> = {},
): Promise<Res> {
  const r = await fetch(`${base}${url}`, {
    method,
    headers: { ...auth, ...o.headers },
    ...(o.payload === undefined ? {} : { body: o.payload }),
  });
  const body = await r.text();
  return { statusCode: r.status, headers: Object.fromEntries(r.headers.entries()), body, json: <T>() => JSON.parse(body) as T };
}

describe('every route from the OpenAPI documents of the running services: unstorable text and framework errors → 4xx problems', () => {
  const services: { name: string; rt: ServiceRuntime; db: string; base: string }[] = [];
  // The broker's admin API too (with its token: these are about input, not authorisation).
  const ADMIN_TOKEN = 'edges-admin-token-0123456789';
  let broker: RunningBroker | undefined;

  before(async () => {
    const admin = new PgDatabase(PG_ADMIN_URL, { max: 1 });
    try {
      for (const [name, create] of [
        ['location', createLocationService],
        ['booking', createBookingService],
        ['payment', createPaymentService],
        ['documents', createDocumentsService],
      ] as const) {
        const db = uniqueName(`edges_${name}`).toLowerCase();
        await admin.exec(`CREATE DATABASE ${quoteIdent(db)}`);
        const url = new URL(PG_ADMIN_URL);
        url.pathname = `/${db}`;
        const rt = await create({ env: {}, config: { databaseUrl: url.toString() } });
        // HTTP only (no MQTT needed for these requests): listen on a free loopback port.
        const base = await rt.http.listen({ port: 0, host: '127.0.0.1' });
        services.push({ name, rt, db, base });
      }
    } finally {
      await admin.close();
    }
    const declarations = [locationDeclaration, bookingDeclaration, paymentDeclaration, documentsDeclaration];
    const users = new Map([...declarations.map((d) => d.service), OBSERVER_ACCOUNT].map((u) => [u, devPassword(u)]));
    broker = await startBroker({ mqttPort: 0, wsPort: null, httpPort: 0, users, adminToken: ADMIN_TOKEN, declarations });
  });

  after(async () => {
    await broker?.close();
    const admin = new PgDatabase(PG_ADMIN_URL, { max: 1 });
    try {
      for (const s of services) {
        await s.rt.http.close();
        await s.rt.close();
        await admin.exec(`DROP DATABASE IF EXISTS ${quoteIdent(s.db)} WITH (FORCE)`);
      }
    } finally {
      await admin.close();
    }
  });

  test('NUL and lone surrogates in every body field, query and path parameter', async () => {
    let requests = 0;
    const routesSeen: string[] = [];
    const targets = [
      ...services.map((x) => ({ name: x.name, base: x.base, auth: {} })),
      { name: 'broker', base: broker!.httpUrl, auth: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    ];
    for (const { name, base, auth } of targets) {
      const doc = (await request(base, 'GET', '/openapi.json')).json<OpenApi>();
      const paths = Object.entries(doc.paths);
      assert.ok(paths.length >= 3, `${name} documents its routes`);
      for (const [template, ops] of paths) {
        for (const [method, op] of Object.entries(ops)) {
          routesSeen.push(`${name} ${method.toUpperCase()} ${template}`);
          const params = op.parameters ?? [];
          const pathParams = params.filter((p) => p.in === 'path');
          const queryParams = params.filter((p) => p.in === 'query');
          const bodySchema = op.requestBody?.content['application/json']?.schema;
          const body = bodySchema ? (sample(bodySchema) as Record<string, unknown>) : undefined;
          const url = (pathValue: (n: string) => string, query: Record<string, string>) => {
            const p = template.replace(/\{([^}]+)\}/g, (_m, n: string) => pathValue(n));
            const q = Object.entries(query)
              .map(([k, v]) => `${encodeURIComponent(k)}=${v}`)
              .join('&');
            return q ? `${p}?${q}` : p;
          };
          const baseQuery = Object.fromEntries(queryParams.map((p) => [p.name, encodeURIComponent(String(sample(p.schema)))]));
          const send = async (u: string, payload?: string) => {
            requests++;
            const res = await request(
              base,
              method.toUpperCase(),
              u,
              payload === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload },
              auth,
            );
            const what = `${name} ${method.toUpperCase()} ${u} ${payload ?? ''}`.slice(0, 300);
            assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${what} → ${res.statusCode} ${res.body}`);
            try {
              return expectProblem(res);
            } catch (err) {
              throw new Error(`${what}: ${(err as Error).message}`);
            }
          };
          const bodyText = body === undefined ? undefined : JSON.stringify(body);

          for (const p of pathParams) {
            for (const v of URL_VARIANTS) {
              const problem = await send(
                url((n) => (n === p.name ? v.raw : 'x1'), baseQuery),
                bodyText,
              );
              assert.ok(
                problem.errors?.some((e) => e.path.startsWith('/params')),
                `${name} ${template} ${p.name} ${v.name}: ${JSON.stringify(problem)}`,
              );
            }
          }
          for (const p of queryParams) {
            for (const v of URL_VARIANTS) {
              const problem = await send(
                url(() => 'x1', { ...baseQuery, [p.name]: v.raw }),
                bodyText,
              );
              assert.ok(
                problem.errors?.some((e) => e.path === `/query/${p.name}` || e.path === '/params'),
                `${name} ${template} ?${p.name} ${v.name}: ${JSON.stringify(problem)}`,
              );
            }
          }
          if (bodySchema && body) {
            for (const field of stringFields(bodySchema)) {
              for (const v of JSON_VARIANTS) {
                const bad = structuredClone(body);
                setAt(bad, field, '__BAD__');
                const problem = await send(
                  url(() => 'x1', baseQuery),
                  JSON.stringify(bad).replace(MARK, v.json),
                );
                const pointer = `/body/${field.join('/')}`;
                assert.ok(
                  problem.errors?.some((e) => e.path === pointer && e.code === v.code),
                  `${name} ${template} ${pointer} ${v.name}: ${JSON.stringify(problem)}`,
                );
              }
            }
            // A bad character in a field NAME is refused too.
            const named = await send(
              url(() => 'x1', baseQuery),
              JSON.stringify({ ...body, __BAD__: 1 }).replace(MARK, '"k\\u0000"'),
            );
            assert.ok(named.errors?.some((e) => e.code === 'nul_character'));
          }
        }
      }
    }
    for (const expected of [
      'broker POST /api/mqtt/subscriptions',
      'broker GET /api/mqtt/dlq/{topic}',
      'booking POST /bookings',
      'booking GET /albergues/{albergue_id}/availability',
      'location POST /albergues',
      'payment POST /payments/{payment_id}/charge',
    ]) {
      assert.ok(routesSeen.includes(expected), `${expected} in ${routesSeen.join(', ')}`);
    }
    assert.ok(requests > 100, `only ${requests} requests`);
  });

  test('framework errors on every route are problems: malformed JSON, media type, empty body, method', async () => {
    for (const { name, base } of services) {
      const doc = (await request(base, 'GET', '/openapi.json')).json<OpenApi>();
      const inject = (o: { method: string; url: string; headers?: Record<string, string>; payload?: string }) =>
        request(base, o.method, o.url, o);
      for (const [template, ops] of Object.entries(doc.paths)) {
        const concrete = template.replace(/\{[^}]+\}/g, 'x1');
        for (const [method, op] of Object.entries(ops)) {
          const m = method.toUpperCase() as 'POST';
          if (op.requestBody) {
            const what = `${name} ${m} ${template}`;
            const bad = await inject({ method: m, url: concrete, headers: { 'content-type': 'application/json' }, payload: '{"a":' });
            assert.equal(expectProblem(bad, 400).code, 'invalid_json', what);
            expectProblem(
              await inject({ method: m, url: concrete, headers: { 'content-type': 'text/plain' }, payload: 'hi' }),
              415,
              'unsupported_media_type',
            );
            expectProblem(
              await inject({ method: m, url: concrete, headers: { 'content-type': 'application/json' }, payload: '' }),
              400,
              'empty_body',
            );
            expectProblem(
              await inject({
                method: m,
                url: concrete,
                headers: { 'content-type': 'application/json' },
                payload: JSON.stringify({ x: 'y'.repeat(70_000) }),
              }),
              413,
              'body_too_large',
            );
            expectProblem(
              await inject({
                method: m,
                url: concrete,
                headers: { 'content-type': 'application/json', 'x-correlation-id': 'nope' },
                payload: '{}',
              }),
              400,
              'invalid_request',
            );
            // Nested 10,000 deep (20 KB, under the limit): a clear 400, no stack overflow.
            const deep = `{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
            expectProblem(
              await inject({ method: m, url: concrete, headers: { 'content-type': 'application/json' }, payload: deep }),
              400,
              'invalid_request',
            );
            const deepNul = `{"x":${'{"a":'.repeat(5_000)}"\\u0000"${'}'.repeat(5_000)}}`;
            expectProblem(
              await inject({ method: m, url: concrete, headers: { 'content-type': 'application/json' }, payload: deepNul }),
              400,
              'invalid_request',
            );
          }
          const other = method === 'get' ? 'DELETE' : 'PUT';
          if (!ops[other.toLowerCase()]) {
            const r = await inject({ method: other, url: concrete });
            expectProblem(r, 405, 'method_not_allowed');
            assert.ok(String(r.headers.allow).includes(m), `${name} ${other} ${template}: Allow ${String(r.headers.allow)}`);
          }
        }
      }
      expectProblem(await inject({ method: 'GET', url: '/no/such/route' }), 404, 'not_found');
    }
  });
});
