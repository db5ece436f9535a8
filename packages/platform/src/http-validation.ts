// The HTTP edge of every service: request validation without type coercion, refusal of text
// Postgres cannot store, and one error shape (RFC 9457 problem details) for everything the HTTP
// layer refuses — schema problems, framework errors (bad JSON, empty body, media type, size, bad
// URL) and domain errors. Installed per routes plugin (`useStrictValidation`), so it does not depend
// on how the Fastify instance was created; the runtime's root app installs the same handler.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProblemDetails as ProblemBody, ProblemItem } from './problem.js';
import { PROBLEM_CONTENT_TYPE, ProblemDetails, pointerToken, printable, problem, unstorableTextProblems } from './problem.js';

export * from './problem.js';

// ajv-formats is CommonJS with a default export; normalise the interop shape once.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

/**
 * OpenAPI/Fastify `response` entries for error statuses: problem details as
 * `application/problem+json`. Spread into a route's `response` next to its success schema.
 */
export function problemResponses(
  ...statuses: readonly number[]
): Record<number, { description: string; content: Record<string, { schema: typeof ProblemDetails }> }> {
  const out: Record<number, { description: string; content: Record<string, { schema: typeof ProblemDetails }> }> = {};
  for (const s of new Set([400, 413, 415, 500, ...statuses])) {
    out[s] = { description: DESCRIPTIONS[s] ?? 'Error (problem details)', content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemDetails } } };
  }
  return out;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: every problem listed in errors[] with its JSON Pointer (no type coercion; NUL and lone surrogates refused).',
  403: 'Not allowed.',
  404: 'Not found.',
  409: 'Conflicts with the current state (or a request with the same Idempotency-Key is still in progress).',
  413: 'Body too large.',
  415: 'Unsupported media type (send application/json).',
  422: 'Unprocessable: well-formed but refused (e.g. an Idempotency-Key reused with another request).',
  500: 'Internal error.',
};

/** Sends a problem with its content type. */
export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** A domain error as the application layer returns it. */
export interface DomainErrorLike {
  readonly code: string;
  readonly reason: string;
}

export interface DomainErrorMapping {
  /** HTTP status of a code (the first error's code decides the response's status). */
  readonly statusOf: (code: string) => number;
  /** JSON Pointer into the request of the input that caused the error, if one did. */
  readonly pathOf?: (error: DomainErrorLike) => string | undefined;
}

/**
 * The problem for domain errors: status, code and title from the first error, every reason in
 * `detail`, and `errors[]` for the ones that point at an input (left out when none does).
 */
export function domainProblem(errors: readonly DomainErrorLike[], mapping: DomainErrorMapping): ProblemBody {
  const first = errors[0] ?? { code: 'invalid_request', reason: 'the request was refused' };
  const items: ProblemItem[] = [];
  for (const e of errors) {
    const path = mapping.pathOf?.(e);
    if (path !== undefined) items.push({ path, message: e.reason, code: e.code });
  }
  return problem(mapping.statusOf(first.code), first.code, errors.map((e) => e.reason).join('; ') || first.reason, items);
}

/** Sends domain errors as one problem (see `domainProblem`). */
export function sendErrors(
  reply: FastifyReply,
  mapping: DomainErrorMapping | ((code: string) => number),
  errors: readonly DomainErrorLike[],
): FastifyReply {
  const m = typeof mapping === 'function' ? { statusOf: mapping } : mapping;
  return sendProblem(reply, domainProblem(errors, m));
}

const PARTS: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/** ajv errors (plus our text checks) of one request part → problem items with JSON Pointers. */
export function validationItems(errors: readonly ErrorObject[], context: string | undefined): ProblemItem[] {
  const base = `/${PARTS[context ?? 'body'] ?? context ?? 'body'}`;
  return errors.map((v) => {
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'required')
      return { path: `${base}${v.instancePath}/${pointerToken(String(params.missingProperty))}`, message: 'is required', code: 'required' };
    if (v.keyword === 'additionalProperties')
      return {
        path: `${base}${v.instancePath}/${pointerToken(String(params.additionalProperty))}`,
        message: 'is not a known field',
        code: 'additionalProperties',
      };
    const allowed =
      v.keyword === 'enum' && Array.isArray(params.allowedValues)
        ? `: ${params.allowedValues.map((x) => JSON.stringify(x)).join(', ')}`
        : '';
    return { path: `${base}${v.instancePath}`, message: `${v.message ?? v.keyword}${allowed}`, code: v.keyword };
  });
}

function invalidRequest(items: readonly ProblemItem[]): ProblemBody {
  const n = items.length;
  const detail = `${n === 1 ? 'the request has a problem' : `the request has ${n} problems`}: ${items.map((p) => `${p.path} ${p.message}`).join('; ')}`;
  return problem(400, 'invalid_request', detail, items);
}

/**
 * The problem for an error Fastify or a handler raised; undefined for a server error (the caller logs
 * it and answers 500 without details).
 */
export function problemOfError(err: FastifyError, req: FastifyRequest): ProblemBody | undefined {
  if (err.validation) {
    const items = validationItems(err.validation as ErrorObject[], err.validationContext);
    const body = (req as { body?: unknown }).body;
    if (
      err.validationContext === 'body' &&
      (body === undefined || body === null) &&
      items.some((i) => i.path === '/body' && i.code === 'type')
    ) {
      return problem(400, 'empty_body', 'the request has no body; send a JSON object with content-type application/json', [
        { path: '/body', message: 'is empty', code: 'empty_body' },
      ]);
    }
    return invalidRequest(items);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'invalid_json':
      return problem(400, 'invalid_json', `the body is not valid JSON (${err.message}); send one JSON object`, [
        { path: '/body', message: err.message, code: 'invalid_json' },
      ]);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem(400, 'empty_body', 'the body is empty but content-type says JSON; send a JSON object', [
        { path: '/body', message: 'is empty', code: 'empty_body' },
      ]);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return problem(
        415,
        'unsupported_media_type',
        `content-type ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported; send application/json`,
        [{ path: '/headers/content-type', message: 'must be application/json', code: 'unsupported_media_type' }],
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'body_too_large', `the body is larger than this API accepts (${err.message})`, [
        { path: '/body', message: 'is too large', code: 'body_too_large' },
      ]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem(400, 'invalid_request', 'content-length does not match the body', [
        { path: '/headers/content-length', message: 'does not match the body', code: 'invalid_content_length' },
      ]);
    case 'FST_ERR_BAD_URL':
      return problem(400, 'invalid_request', 'the URL is not valid percent-encoded UTF-8', [
        { path: '/params', message: 'is not valid percent-encoded UTF-8', code: 'bad_url' },
      ]);
    default:
      break;
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = typeof err.code === 'string' && /^[a-z][a-z0-9_]*$/.test(err.code) ? err.code : 'invalid_request';
    return problem(status, code, err.message || 'the request was refused');
  }
  return undefined;
}

/** The error handler: every refusal as a problem, server errors logged and answered without details. */
export function problemErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = problemOfError(err, req);
  if (body) return sendProblem(reply, body);
  req.log.error({ err }, 'request failed');
  return sendProblem(
    reply,
    problem(
      500,
      'internal_error',
      'the request could not be completed; it is safe to retry it (with the same Idempotency-Key for a command)',
    ),
  );
}

/**
 * A validator compiler: ajv with every problem listed, NO type coercion (`"beds": "2"` is a string,
 * not 2), defaults applied, formats checked; plus a check that no string (value or field name) holds
 * text Postgres cannot store (NUL, lone surrogates), reported like any other problem.
 */
export function strictValidatorCompiler(): (route: { schema: unknown }) => (data: unknown, ctx?: unknown) => boolean {
  const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  addFormats(ajv);
  return ({ schema }) => {
    const validate = ajv.compile(schema as object);
    const check = ((data: unknown, ctx?: unknown): boolean => {
      const ok = (validate as (d: unknown, c?: unknown) => boolean)(data, ctx);
      const bad = unstorableTextProblems(data, '');
      if (bad.length === 0) {
        check.errors = validate.errors;
        return ok;
      }
      const textErrors: ErrorObject[] = bad.map((b) => ({
        instancePath: b.path,
        keyword: b.code,
        message: b.message,
        params: {},
        schemaPath: '#',
      }));
      check.errors = [...(validate.errors ?? []), ...textErrors];
      return false;
    }) as ((data: unknown, ctx?: unknown) => boolean) & { errors?: ErrorObject[] | null | undefined; schemaEnv?: unknown };
    // Fastify passes the parent (so ajv can set root defaults) only to functions that look like ajv's.
    check.schemaEnv = (validate as unknown as { schemaEnv?: unknown }).schemaEnv;
    return check;
  };
}

/**
 * Query parameters whose percent-encoding is not valid UTF-8 (e.g. `%ED%A0%80`, a surrogate's bytes):
 * the query parser would pass them on raw or mangled, so they are refused like a bad path.
 */
export function badQueryEncoding(url: string): ProblemItem[] {
  const q = url.indexOf('?');
  if (q < 0 || !url.includes('%', q)) return [];
  const found: ProblemItem[] = [];
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      decodeURIComponent(eq < 0 ? '' : pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      found.push({ path: `/query/${pointerToken(printable(name))}`, message: 'is not valid percent-encoded UTF-8', code: 'bad_encoding' });
    }
  }
  return found;
}

/** Installs the strict validator and the problem error handler on `app` (a routes plugin's scope). */
export function useStrictValidation(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    const bad = badQueryEncoding(req.url);
    if (bad.length > 0)
      return sendProblem(reply, problem(400, 'invalid_request', 'the query string is not valid percent-encoded UTF-8', bad));
  });
  // The APIs speak JSON only: a text/plain body is a 415, not a string that fails "must be object".
  if (app.hasContentTypeParser('text/plain')) app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(strictValidatorCompiler());
  app.setErrorHandler(problemErrorHandler);
}

export * from './http-command.js';
