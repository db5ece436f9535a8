// Every error the broker's HTTP API sends is an RFC 9457 problem built here, and only here.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { problemOfError } from '@albergue/platform/http';

const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One input problem: `path` is a JSON Pointer into the request (`/body/subscriber`, `/query/topic`, `/params/id`, `/headers/authorization`). */
interface ProblemDetailItem {
  readonly path: string;
  readonly message: string;
  /** The validation keyword or a reason code. */
  readonly code: string;
}

export interface ProblemInit {
  readonly status: number;
  /** snake_case reason, e.g. `unauthorized`, `invalid_request`. */
  readonly code: string;
  /** What went wrong and what to do. */
  readonly detail: string;
  readonly title?: string;
  /** Input problems (present for bad input). */
  readonly errors?: readonly ProblemDetailItem[];
}

interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly errors?: readonly ProblemDetailItem[];
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Payload too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

function problemBody(p: ProblemInit): ProblemBody {
  return {
    type: `urn:albergue:problem:${p.code}`,
    title: p.title ?? TITLES[p.status] ?? (p.status >= 500 ? 'Server error' : 'Client error'),
    status: p.status,
    detail: p.detail,
    code: p.code,
    ...(p.errors !== undefined ? { errors: p.errors } : {}),
  };
}

/** Sends the problem with its status and `application/problem+json`. */
export function sendProblem(reply: FastifyReply, p: ProblemInit): FastifyReply {
  return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(problemBody(p));
}

/** JSON Schema of a problem body (OpenAPI responses; also keeps the serializer from dropping fields). */
export const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message', 'code'],
        properties: { path: { type: 'string' }, message: { type: 'string' }, code: { type: 'string' } },
      },
    },
  },
} as const;

/**
 * The problem for an error Fastify raised: the same mapping as every service (validation with JSON
 * Pointers, invalid JSON, empty body, media type, body size, bad URL — @albergue/platform/http), so a
 * situation has one code and status across the system. Anything else is a failing dependency (Redis
 * away): 503, retry later.
 */
export function problemFromError(err: FastifyError, req: FastifyRequest): ProblemInit {
  const p = problemOfError(err, req);
  if (p) return { status: p.status, code: p.code, detail: p.detail, ...(p.errors !== undefined ? { errors: p.errors } : {}) };
  return { status: 503, code: 'unavailable', detail: `the broker could not complete the request (${err.message}); retry later` };
}
