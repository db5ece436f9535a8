// Test support shared by every package: wait on conditions (never sleep), free ports, unique names.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

/** Polls `condition` until it returns a truthy value or the deadline passes (then throws `message`). */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await condition();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${options.message ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof addr !== 'object' || !addr) throw new Error('could not get a free port');
  return addr.port;
}

/** A name unique to this test run, safe for Redis keys, databases and MQTT client ids. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** The parts of an HTTP response a problem check needs (Fastify's inject and fetch adapters fit). */
export interface ProblemResponseLike {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly body: string;
}

export interface ProblemBodyShape {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { path: string; message: string; code: string }[];
}

/**
 * Checks that `res` is an RFC 9457 problem of the agreed shape (content type, type URN, title,
 * status, detail, snake_case code, errors[] with JSON Pointers into the request) and, when given,
 * of `status` and `code`. Returns the body. Throws with the response when it is not.
 */
export function expectProblem(res: ProblemResponseLike, status?: number, code?: string): ProblemBodyShape {
  const fail = (why: string): never => {
    throw new Error(
      `not the expected problem (${why}): ${res.statusCode} ${JSON.stringify(res.headers['content-type'])} ${res.body.slice(0, 500)}`,
    );
  };
  if (status !== undefined && res.statusCode !== status) fail(`status ${res.statusCode}, expected ${status}`);
  if (!String(res.headers['content-type'] ?? '').startsWith('application/problem+json')) fail('content-type');
  let body: ProblemBodyShape;
  try {
    body = JSON.parse(res.body) as ProblemBodyShape;
  } catch {
    return fail('body is not JSON');
  }
  if (typeof body !== 'object' || body === null) fail('body is not an object');
  if (body.status !== res.statusCode) fail('status field differs from the HTTP status');
  if (typeof body.code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(body.code)) fail('code is not snake_case');
  if (body.type !== `urn:albergue:problem:${body.code}`) fail('type is not urn:albergue:problem:<code>');
  if (typeof body.title !== 'string' || body.title.length === 0) fail('no title');
  if (typeof body.detail !== 'string' || body.detail.length === 0) fail('no detail');
  if (code !== undefined && body.code !== code) fail(`code ${body.code}, expected ${code}`);
  const allowed = new Set(['type', 'title', 'status', 'detail', 'code', 'errors']);
  for (const k of Object.keys(body)) if (!allowed.has(k)) fail(`unexpected member ${k}`);
  if (body.errors !== undefined) {
    if (!Array.isArray(body.errors) || body.errors.length === 0) fail('errors is not a non-empty array');
    for (const e of body.errors) {
      if (typeof e.path !== 'string' || !/^\/(body|query|params|headers)(\/|$)/.test(e.path))
        fail(`errors[].path ${JSON.stringify(e.path)} is not a pointer into the request`);
      if (typeof e.message !== 'string' || e.message.length === 0) fail('errors[].message');
      if (typeof e.code !== 'string' || e.code.length === 0) fail('errors[].code');
    }
  }
  return body;
}
