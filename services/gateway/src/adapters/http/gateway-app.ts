// The gateway's HTTP edge: one catch-all route that decides everything on the checked path —
// path spelling (400), key (401), policy (404/405, deny by default), scopes (403), rate limit (429) —
// then forwards exactly the authorised path, signed, with the client's spoofable headers removed.
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import replyFrom from '@fastify/reply-from';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { newEventId } from '@albergue/events';
import type { Logger } from '@albergue/platform';
import { CORRELATION_ID_HEADER, isUuid, problem, problemErrorHandler, sendProblem } from '@albergue/platform/http';
import {
  EMPTY_BODY_SHA256,
  GATEWAY_CLIENT_HEADER,
  GATEWAY_SCOPES_HEADER,
  GATEWAY_SIGNATURE_HEADER,
  signGatewayRequest,
} from '@albergue/platform/gateway-signature';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Client, KeyRing } from '../../application/keys.js';
import type { RateDecision, RateLimit, RateLimiter } from '../../application/ports.js';
import type { PublicPath } from '../../domain/path.js';
import { parsePublicPath } from '../../domain/path.js';
import type { RoutePolicy } from '../../domain/policy.js';
import { allowed, guestIdsOf } from '../../domain/policy.js';
import type { CombinedOpenApi } from './openapi.js';

export interface GatewayHttpDeps {
  readonly logger: Logger;
  /** Where the gateway's counters are registered (created when the plugin is registered). */
  readonly metrics: Registry;
  readonly keys: KeyRing;
  readonly policy: RoutePolicy;
  readonly limiter: RateLimiter;
  readonly keyLimit: RateLimit;
  readonly ipLimit: RateLimit;
  /** context → service origin. */
  readonly upstreams: Readonly<Record<string, string>>;
  readonly secret: string | undefined;
  readonly openapi: CombinedOpenApi;
  /** The upstream answer timeout (read when the plugin is registered). */
  readonly upstreamTimeoutMs: number;
  /** A key's first refusal in its window (publishes RateLimitExceeded; must not throw). */
  readonly onRateLimited: (client: Client, route: string, limit: RateLimit) => void;
  /** /health's checks (the gateway is ready whenever it listens; these say what is degraded). */
  readonly health: () => Record<string, string>;
}

/** Request headers a client may not send on: hop-by-hop, the gateway's own, forwarding claims, credentials. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);
const STRIPPED = new Set(['authorization', 'x-api-key', 'cookie', 'forwarded', 'x-real-ip', 'x-client-ip', 'via', CORRELATION_ID_HEADER]);
const strippedHeader = (name: string) =>
  HOP_BY_HOP.has(name) || STRIPPED.has(name) || name.startsWith('x-albergue-') || name.startsWith('x-forwarded-');

/** Response headers of a service that are not passed on (hop-by-hop; the gateway sets its own). */
const RESPONSE_STRIPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'trailer']);

interface GatewayRequestState {
  correlationId: string;
  client?: Client;
  route?: string;
}
const STATE = Symbol('gateway');
type WithState = FastifyRequest & { [STATE]?: GatewayRequestState };
const stateOf = (req: FastifyRequest): GatewayRequestState => ((req as WithState)[STATE] ??= { correlationId: req.id });

/** The presented key: `Authorization: Bearer <key>` or `x-api-key`; both given must agree. */
function presentedKey(req: FastifyRequest): { key?: string; error?: string } {
  const auth = req.headers.authorization;
  const apiKey = req.headers['x-api-key'];
  let bearer: string | undefined;
  if (auth !== undefined) {
    const m = /^Bearer ([\x21-\x7e]+)$/i.exec(auth);
    if (!m) return { error: 'Authorization must be "Bearer <key>"' };
    bearer = m[1];
  }
  if (Array.isArray(apiKey)) return { error: 'x-api-key given more than once' };
  if (bearer !== undefined && apiKey !== undefined && bearer !== apiKey)
    return { error: 'Authorization and x-api-key name different keys' };
  const key = bearer ?? apiKey;
  return key === undefined || key === '' ? {} : { key };
}

function rateHeaders(reply: FastifyReply, d: RateDecision): void {
  reply.header('ratelimit-limit', String(d.limit));
  reply.header('ratelimit-remaining', String(d.remaining));
  reply.header('ratelimit-reset', String(d.resetS));
}

/** The gateway's bare Fastify app (not listening): its logger, body limit, request ids and problem answers. */
export function createGatewayApp(o: { readonly logger: Logger; readonly bodyLimit: number }): FastifyInstance {
  const app = Fastify({
    loggerInstance: o.logger,
    bodyLimit: o.bodyLimit,
    genReqId: () => newEventId(),
    // The gateway decides on the raw target itself (parsePublicPath); the router only separates
    // its own few routes from the catch-all.
    frameworkErrors: (err, req, reply) => {
      problemErrorHandler(err, req, reply);
    },
  }) as unknown as FastifyInstance;
  app.setErrorHandler(problemErrorHandler);
  return app;
}

/**
 * The gateway's whole HTTP API as one plugin: its own routes (/health, /metrics, /openapi.json, /docs)
 * and the catch-all that decides and forwards everything else. Registering it uses only `metrics`
 * and `upstreamTimeoutMs`; every other dependency is used when a request is handled.
 */
export function gatewayRoutes(d: GatewayHttpDeps): FastifyPluginAsync {
  return async (app) => {
    const requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered by the gateway, by route pattern and status',
      labelNames: ['route', 'status'] as const,
      registers: [d.metrics],
    });
    const limited = new Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests refused with 429, by kind (key or ip)',
      labelNames: ['kind'] as const,
      registers: [d.metrics],
    });
    const refused = new Counter({
      name: 'gateway_auth_refusals_total',
      help: 'Requests refused by authentication or authorisation, by status and code',
      labelNames: ['status', 'code'] as const,
      registers: [d.metrics],
    });

    // Bodies are forwarded byte for byte (and their digest signed): no parsing at the gateway.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    await app.register(replyFrom, {
      undici: { connections: 128, pipelining: 1, headersTimeout: d.upstreamTimeoutMs, bodyTimeout: d.upstreamTimeoutMs },
      disableRequestLogging: true,
    });

    // Correlation: a valid incoming id is kept (lower case), anything else is replaced by a new UUIDv7.
    app.addHook('onRequest', async (req, reply) => {
      const raw = req.headers[CORRELATION_ID_HEADER];
      const correlationId = typeof raw === 'string' && isUuid(raw) ? raw.toLowerCase() : newEventId();
      stateOf(req).correlationId = correlationId;
      reply.header(CORRELATION_ID_HEADER, correlationId);
    });
    app.addHook('onResponse', async (req, reply) => {
      requests.inc({ route: stateOf(req).route ?? 'gateway', status: String(reply.statusCode) });
    });

    // The gateway's own routes (public: no data behind them).
    // The summaries are what the catalog (docs/CATALOG.md) lists; the routes stay out of /openapi.json.
    const own = (summary: string) => ({ schema: { hide: true, summary } });
    app.get('/health', own('liveness; the rate limiter and MQTT state in `checks`'), () => ({
      service: 'gateway',
      status: 'ready',
      checks: d.health(),
    }));
    app.get('/metrics', own('Prometheus metrics (requests by route pattern and status, refusals, rate limiting)'), async (_req, reply) =>
      reply.type(d.metrics.contentType).send(await d.metrics.metrics()),
    );
    app.get('/openapi.json', own("the combined OpenAPI of every service's routes under /api/<context>, with their scopes"), () =>
      d.openapi.get(),
    );
    // The reference page: swagger-ui's files are served from the package (no CDN), reading /openapi.json.
    // Its routes are swagger-ui's; the page itself gets a summary for the catalog.
    app.addHook('onRoute', (r) => {
      if (r.url === '/docs' && (r.method === 'GET' || (Array.isArray(r.method) && r.method.includes('GET'))))
        r.schema = { ...r.schema, summary: 'the API reference (swagger-ui on /openapi.json, its files under /docs/…)' };
    });
    await app.register(swagger, {
      mode: 'static',
      specification: { document: { openapi: '3.0.3', info: { title: 'Albergue', version: '1.0.0' }, paths: {} } },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      transformSpecification: () => d.openapi.get() as never,
      transformSpecificationClone: false,
      uiConfig: { deepLinking: true },
    });

    const refuse = (reply: FastifyReply, status: number, code: string, detail: string) => {
      if (status === 401 || status === 403) refused.inc({ status: String(status), code });
      return sendProblem(reply, problem(status, code, detail));
    };

    /** A request without a valid key counts against its IP first (cheap), then gets its 401. */
    const unauthenticated = async (req: FastifyRequest, reply: FastifyReply, detail: string) => {
      const ip = await d.limiter.take(`ip:${req.ip}`, 'unauthenticated', d.ipLimit, false);
      if (!ip.allowed) {
        limited.inc({ kind: 'ip' });
        rateHeaders(reply, ip);
        reply.header('retry-after', String(ip.retryAfterS));
        return refuse(
          reply,
          429,
          'rate_limited',
          `too many requests without a valid API key from this address; retry after ${ip.retryAfterS} s`,
        );
      }
      reply.header('www-authenticate', 'Bearer realm="albergue"');
      return refuse(reply, 401, 'unauthorized', detail);
    };

    const catchAll = own(
      'every service route: /api/<context>/<rest> → that service /<rest>, after the path, key, policy, scope and rate-limit checks (services/gateway/src/domain/policy.ts lists them)',
    );
    app.all('/*', catchAll, async (req, reply) => {
      const state = stateOf(req);
      const decision = parsePublicPath(req.raw.url ?? req.url);
      if (!decision.ok) {
        if (decision.kind === 'ambiguous') return refuse(reply, 400, 'ambiguous_path', `the path is refused: ${decision.reason}`);
        return refuse(
          reply,
          404,
          'not_found',
          `there is no route ${req.method} here: the API is under /api/<context>/…; see /openapi.json`,
        );
      }
      const path = decision.path;

      const presented = presentedKey(req);
      if (presented.error !== undefined) return unauthenticated(req, reply, presented.error);
      if (presented.key === undefined)
        return unauthenticated(req, reply, 'an API key is required: send Authorization: Bearer <key> (or x-api-key: <key>)');
      const auth = d.keys.authenticate(presented.key);
      if (!auth.ok) return unauthenticated(req, reply, `the API key is refused: ${auth.reason}`);
      const client = auth.client;
      state.client = client;

      const match = d.policy.match(req.method, path);
      if (!match) {
        const methods = d.policy.methodsFor(path);
        if (methods.length > 0) {
          reply.header('allow', methods.join(', '));
          return refuse(reply, 405, 'method_not_allowed', `${req.method} is not allowed on this route; allowed: ${methods.join(', ')}`);
        }
        // Deny by default: a path without a policy entry is not routed, whatever the key's scopes.
        return refuse(
          reply,
          404,
          'not_found',
          `there is no route ${req.method} /api/${path.context}/… with a gateway policy; see /openapi.json`,
        );
      }
      state.route = match.route;
      if (!allowed(match.entry, client.scopes))
        return refuse(
          reply,
          403,
          'insufficient_scope',
          `this operation needs a key with one of the scopes ${match.entry.scopes.join(', ')}; this key has ${client.scopes.join(', ')}`,
        );
      const bound = client.guestId;
      if (bound !== undefined && !client.scopes.includes('operator') && guestIdsOf(match, path.query).some((g) => g !== bound))
        return refuse(reply, 403, 'not_your_guest', 'this key belongs to another guest');

      const rate = await d.limiter.take(client.keyHash, match.route, d.keyLimit, true);
      rateHeaders(reply, rate);
      if (!rate.allowed) {
        limited.inc({ kind: 'key' });
        if (rate.notify) d.onRateLimited(client, match.route, d.keyLimit);
        reply.header('retry-after', String(rate.retryAfterS));
        return refuse(
          reply,
          429,
          'rate_limited',
          `this key made more than ${rate.limit} requests to ${match.route} in ${d.keyLimit.windowS} s; retry after ${rate.retryAfterS} s`,
        );
      }
      return forward(req, reply, path, client, state.correlationId);
    });

    function forward(req: FastifyRequest, reply: FastifyReply, path: PublicPath, client: Client, correlationId: string): FastifyReply {
      const base = d.upstreams[path.context];
      if (base === undefined) return refuse(reply, 404, 'not_found', `no service is configured for ${path.context}`);
      const target = `${new URL(path.upstreamPath, base).pathname}${path.query === '' ? '' : `?${path.query}`}`;
      // GET and HEAD bodies are neither parsed nor forwarded; any other body goes byte for byte.
      const body = Buffer.isBuffer(req.body) && req.method !== 'GET' && req.method !== 'HEAD' ? req.body : undefined;
      const scopes = [...client.scopes].sort().join(' ');
      return reply.from(`${base}${target}`, {
        // The query goes exactly as the client sent it (and as it is signed), never re-encoded.
        queryString: () => path.query,
        // As bytes with the client's content type (reply-from would re-encode a JSON body otherwise).
        ...(body !== undefined ? { body, contentType: req.headers['content-type'] ?? 'application/octet-stream' } : {}),
        // No retries: a command must not be sent twice by the gateway (the client has Idempotency-Key).
        retryDelay: () => null,
        rewriteRequestHeaders: (_req, headers) => {
          const out: Record<string, string | string[] | undefined> = {};
          const listed = String(headers.connection ?? '')
            .split(',')
            .map((h) => h.trim().toLowerCase());
          for (const [name, value] of Object.entries(headers)) if (!strippedHeader(name) && !listed.includes(name)) out[name] = value;
          out.host = new URL(base).host;
          if (body !== undefined) out['content-length'] = String(body.length);
          out[CORRELATION_ID_HEADER] = correlationId;
          out[GATEWAY_CLIENT_HEADER] = client.clientId;
          out[GATEWAY_SCOPES_HEADER] = scopes;
          out['x-forwarded-for'] = req.ip;
          out['x-forwarded-proto'] = req.protocol;
          if (d.secret !== undefined)
            out[GATEWAY_SIGNATURE_HEADER] = signGatewayRequest(d.secret, {
              method: req.method,
              target,
              timestampMs: Date.now(),
              nonce: req.id,
              clientId: client.clientId,
              scopes,
              bodySha256: body !== undefined && body.length > 0 ? createHash('sha256').update(body).digest('hex') : EMPTY_BODY_SHA256,
            });
          return out;
        },
        rewriteHeaders: (headers) => {
          const out: Record<string, unknown> = {};
          for (const [name, value] of Object.entries(headers)) if (!RESPONSE_STRIPPED.has(name)) out[name] = value;
          out[CORRELATION_ID_HEADER] = correlationId;
          return out as never;
        },
        onError: (r, { error }) => {
          d.logger.warn({ err: error, context: path.context }, 'upstream failed');
          if (!r.sent)
            void refuse(r as FastifyReply, 502, 'upstream_unavailable', `the ${path.context} service did not answer; retry later`);
        },
      });
    }
  };
}
