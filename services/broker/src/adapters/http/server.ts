import { timingSafeEqual, createHash } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from '@albergue/platform';
import { badQueryEncoding, strictValidatorCompiler } from '@albergue/platform/http';
import type { HttpApiDeps } from './deps.js';
import { publishRoutes } from './publish-routes.js';
import { consumerRoutes } from './consumers-routes.js';
import { dlqRoutes } from './dlq-routes.js';
import { circuitRoutes } from './circuits-routes.js';
import { deliveryRoutes } from './deliveries-routes.js';
import { opsRoutes } from './ops-routes.js';
import { problemFromError, sendProblem } from './problem.js';

const DEFAULT_BODY_LIMIT = 256 * 1024;

/** A route as the server registered it (taken from Fastify's onRoute, never a hand-kept list). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly public: boolean;
}

/** The API with the routes it registered. (A Fastify instance is thenable: `await` types it back to FastifyInstance, so cast.) */
export type BrokerHttpApi = FastifyInstance & { readonly routeTable: readonly RouteInfo[] };

/** Route config: `{ public: true }` opens a route; anything else needs the admin token. */
export interface RouteAccess {
  readonly public?: boolean;
}

/**
 * The broker's HTTP API (Fastify). Authorisation is decided on the route that MATCHED, deny by
 * default: every route gets the token check as its own onRequest hook unless its config says
 * `public: true` (/health, /metrics, /openapi.json, /docs). Percent-encoded, doubled or dotted
 * spellings of a path can therefore never reach a handler without the token: whatever the router
 * matched is what is checked. Every error is an RFC 9457 problem (problem.ts).
 */
export async function buildHttpApi(deps: HttpApiDeps, logger: Logger) {
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }, { level: logger.isLevelEnabled('warn') ? 'warn' : logger.level }),
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // The router's own refusals (malformed percent-encoding, an over-long path parameter) are problems
    // too; they happen before any route matched, so no handler runs.
    frameworkErrors: (err, _req, reply) => {
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void sendProblem(reply, {
        status: tooLong ? 414 : 400,
        code: tooLong ? 'uri_too_long' : 'bad_url',
        detail: tooLong
          ? 'a path parameter is longer than the router accepts (100 characters)'
          : 'the path is not a valid URL component (malformed percent-encoding)',
        errors: [{ path: '/params', message: err.message.slice(0, 300), code: tooLong ? 'maxLength' : 'bad_url' }],
      });
    },
  });
  const routes: RouteInfo[] = [];

  // JSON only: any other content type is a 415.
  app.removeContentTypeParser('text/plain');
  // Strict input, as on every service: no type coercion (query numbers are digit strings in the
  // schemas), unknown fields refused, every problem listed, and no text Postgres or a consumer could
  // not store (NUL, lone surrogates) in any string or field name.
  app.setValidatorCompiler(strictValidatorCompiler());
  // After the token check (onRequest), so a caller without the token learns nothing but 401.
  app.addHook('preValidation', (req, reply, done) => {
    const bad = badQueryEncoding(req.url);
    if (bad.length === 0) return done();
    void sendProblem(reply, {
      status: 400,
      code: 'invalid_request',
      detail: 'the query string is not valid percent-encoded UTF-8',
      errors: bad,
    });
  });

  const expected = digest(deps.adminToken);
  // Callback style: answering without calling done() ends the request before any handler.
  const requireAdmin: onRequestHookHandler = (req: FastifyRequest, reply: FastifyReply, done) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    // Both sides hashed to 32 bytes: the comparison time does not depend on the token's length or content.
    const ok = m !== null && timingSafeEqual(digest(m[1]!), expected);
    if (ok) return done();
    reply.header('www-authenticate', 'Bearer');
    void sendProblem(reply, {
      status: 401,
      code: 'unauthorized',
      detail:
        header === ''
          ? 'this endpoint needs Authorization: Bearer <BROKER_ADMIN_TOKEN>'
          : 'the bearer token is not the admin token (BROKER_ADMIN_TOKEN)',
      errors: [
        {
          path: '/headers/authorization',
          message: header === '' ? 'missing' : 'wrong token',
          code: header === '' ? 'missing' : 'invalid_token',
        },
      ],
    });
  };
  app.addHook('onRoute', (route) => {
    const isPublic = (route.config as RouteAccess | undefined)?.public === true;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, public: isPublic });
    if (isPublic) return;
    const existing = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [requireAdmin, ...existing];
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Albergue broker API',
        version: '1.0.0',
        description:
          'Publish events, read and clear retained messages, consume the delivery ledger over HTTP, operate the DLQ and circuit breakers. Errors are RFC 9457 problems (application/problem+json).',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'BROKER_ADMIN_TOKEN' } } },
    },
  });

  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, {
      status: 404,
      code: 'not_found',
      detail: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}; see /openapi.json`,
    }),
  );
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const p = problemFromError(err, req);
    if (p.status >= 500) req.log.error({ err }, 'request failed');
    return sendProblem(reply, p);
  });

  await app.register(opsRoutes(deps));
  await app.register(publishRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(consumerRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(dlqRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(circuitRoutes(deps), { prefix: '/api/mqtt' });
  await app.register(deliveryRoutes(deps), { prefix: '/api/mqtt' });
  return Object.assign(app, { routeTable: routes }) as unknown as BrokerHttpApi;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
