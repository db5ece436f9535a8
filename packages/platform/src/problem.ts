// RFC 9457 problem details: the one error shape of every HTTP API of the project. Pure helpers (no
// Fastify here): building problems, JSON Pointers, the OpenAPI schema, the text Postgres refuses.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_PREFIX = 'urn:albergue:problem:';

/** One problem with the input: where (JSON Pointer into the request), what, and a machine code. */
export const ProblemItem = Type.Object({
  path: Type.String({
    description: 'JSON Pointer into the request: /body/guest/email, /query/from, /params/booking_id, /headers/idempotency-key.',
  }),
  message: Type.String(),
  code: Type.String({
    description: 'The JSON Schema keyword (type, required, format, …) or a reason code (nul_character, lone_surrogate, …).',
  }),
});
export type ProblemItem = Static<typeof ProblemItem>;

/** The body of every error response (content-type application/problem+json). */
export const ProblemDetails = Type.Object(
  {
    type: Type.String({ description: 'urn:albergue:problem:<code>' }),
    title: Type.String({ description: 'Short summary of the kind of problem; the same for every occurrence of the code.' }),
    status: Type.Integer({ description: 'The HTTP status code.' }),
    detail: Type.String({ description: 'What went wrong in this request and what to do about it.' }),
    code: Type.String({ description: 'snake_case machine code, e.g. no_beds_left.' }),
    errors: Type.Optional(Type.Array(ProblemItem, { description: 'Every problem with the input (present for input problems).' })),
  },
  { description: 'RFC 9457 problem details.' },
);
export type ProblemDetails = Static<typeof ProblemDetails>;

const TITLES: Record<string, string> = {
  invalid_request: 'Invalid request',
  invalid_json: 'Malformed JSON body',
  empty_body: 'Empty request body',
  unsupported_media_type: 'Unsupported media type',
  body_too_large: 'Request body too large',
  not_found: 'No such route',
  method_not_allowed: 'Method not allowed',
  internal_error: 'Internal error',
  idempotency_key_reused: 'Idempotency key reused with another request',
  idempotency_key_in_use: 'Request with this idempotency key still in progress',
};

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Request body too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

/** The title of a code: a fixed one for the framework's codes, else the code in words (no_beds_left → "No beds left"). */
export function titleOf(code: string, status?: number): string {
  const known = TITLES[code];
  if (known) return known;
  if (/^[a-z][a-z0-9_]*$/.test(code)) {
    const words = code.replace(/_/g, ' ');
    return words.charAt(0).toUpperCase() + words.slice(1);
  }
  return STATUS_TITLES[status ?? 400] ?? 'Error';
}

/** A problem body; `errors` is left out when empty. */
export function problem(status: number, code: string, detail: string, errors?: readonly ProblemItem[], title?: string): ProblemDetails {
  return {
    type: `${PROBLEM_TYPE_PREFIX}${code}`,
    title: title ?? titleOf(code, status),
    status,
    detail,
    code,
    ...(errors && errors.length > 0 ? { errors: [...errors] } : {}),
  };
}

/** Escapes one reference token of a JSON Pointer (RFC 6901). */
export function pointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** `/body` + tokens → a JSON Pointer (`pointer('body', 'guest', 'email')` = `/body/guest/email`). */
export function pointer(...tokens: readonly (string | number)[]): string {
  return tokens.map((t) => `/${pointerToken(t)}`).join('');
}

/** What is wrong with a string Postgres cannot store, or undefined when it is fine. */
export function unstorableText(s: string): { code: 'nul_character' | 'lone_surrogate'; message: string } | undefined {
  // Fast path: no NUL and no surrogate code unit at all (the common case).
  // eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
  if (!/[\u0000\uD800-\uDFFF]/.test(s)) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return { code: 'nul_character', message: `contains a NUL character (\\u0000) at position ${i}; text may not contain NUL` };
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return {
        code: 'lone_surrogate',
        message: `contains a lone surrogate (\\u${c.toString(16)}) at position ${i}; text must be valid Unicode`,
      };
    }
    if (c >= 0xdc00 && c <= 0xdfff)
      return {
        code: 'lone_surrogate',
        message: `contains a lone surrogate (\\u${c.toString(16)}) at position ${i}; text must be valid Unicode`,
      };
  }
  return undefined;
}

/** Replaces what `unstorableText` refuses with U+FFFD, so a pointer or message can show it safely. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- NUL is exactly what this replaces
  return s.replace(/\u0000/g, '\uFFFD').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Every string (values and object keys) in `value` that Postgres cannot store, as problems located
 * under `base` (a JSON Pointer). Iterative, so any nesting depth is safe; stops after `limit` problems.
 */
export function unstorableTextProblems(value: unknown, base: string, limit = 20): ProblemItem[] {
  const found: ProblemItem[] = [];
  const stack: { v: unknown; path: string }[] = [{ v: value, path: base }];
  while (stack.length > 0 && found.length < limit) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const bad = unstorableText(v);
      if (bad) found.push({ path, message: bad.message, code: bad.code });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i] as unknown, path: `${path}/${i}` });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        const childPath = `${path}/${pointerToken(printable(k))}`;
        const badKey = unstorableText(k);
        if (badKey) found.push({ path: childPath, message: `field name ${badKey.message}`, code: badKey.code });
        stack.push({ v: child, path: childPath });
      }
    }
  }
  return found;
}
