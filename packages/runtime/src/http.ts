import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { newEventId } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import type { Logger } from '@albergue/platform';
import {
  COMMAND_ID_HEADER,
  CORRELATION_ID_HEADER,
  isUuid,
  problem,
  problemErrorHandler,
  sendProblem,
  useStrictValidation,
} from '@albergue/platform/http';
import type { Registry } from 'prom-client';
import { Type } from '@sinclair/typebox';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import {
  EMPTY_BODY_SHA256,
  GATEWAY_CLIENT_HEADER,
  GATEWAY_SCOPES_HEADER,
  GATEWAY_SIGNATURE_HEADER,
  NonceGuard,
  type NonceStore,
  verifyGatewaySignature,
} from '@albergue/platform/gateway-signature';
import type { IdempotencyStore } from './idempotency.js';
import { IDEMPOTENCY_KEY_HEADER, installIdempotency } from './idempotency.js';

/** A readiness check: resolves true when the dependency is usable, false or throws when not. */
export type ReadinessCheck = () => Promise<boolean>;

export interface HttpOptions {
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly checks: Record<string, ReadinessCheck>;
  readonly description?: string;
  /** Request body limit in bytes (default 64 KiB). */
  readonly bodyLimit?: number;
  /** The service's database (not the unit-of-work wrapper): enables Idempotency-Key on command routes. */
  readonly idempotency?: { readonly db: SqlDatabase; readonly ttlMs?: number; readonly waitMs?: number; readonly leaseMs?: number };
  /** Told of every route as it is added, the runtime's own included (the catalog lists them). */
  readonly onRoute?: (route: RouteOptions) => void;
  /**
   * GATEWAY_SHARED_SECRET: when set, every request but /health and /metrics must carry the gateway's
   * signature (401 otherwise). Required in production (see serviceConfig).
   */
  readonly gatewaySecret?: string;
  /** The replay window of gateway signatures in ms (default 30 s). */
  readonly signatureWindowMs?: number;
  /** Nonces already accepted: shared by every instance of the service (Redis) or, by default, this process's. */
  readonly nonces?: NonceStore;
}

export interface ServiceHttp {
  readonly app: FastifyInstance;
  /** Present when idempotency is enabled (its purge job needs it). */
  readonly idempotency?: IdempotencyStore;
}

/** `/bookings/:booking_id/cancel` → a RegExp matching concrete paths of that route. */
function routePattern(url: string): RegExp {
  const parts = url.split('/').map((seg) => {
    if (seg.startsWith(':')) return '[^/]+';
    if (seg === '*') return '.*';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

/**
 * The service's Fastify app: OpenAPI at /openapi.json, Prometheus at /metrics, and /health —
 * 200 when every readiness check passes, 503 with the failing ones otherwise (liveness is the
 * process answering at all). Every request gets a UUIDv7 command id (`x-command-id`) and joins the
 * flow of a valid `x-correlation-id` (an invalid one is a 400); every error is a problem
 * (application/problem+json), including unknown routes (404), wrong methods (405) and bad URLs.
 */
export async function buildHttp(o: HttpOptions): Promise<FastifyInstance> {
  return (await buildServiceHttp(o)).app;
}

export async function buildServiceHttp(o: HttpOptions): Promise<ServiceHttp> {
  // pino's Logger is a FastifyBaseLogger; the cast keeps the app's type the plain FastifyInstance routes plugins expect.
  const app = Fastify({
    loggerInstance: o.logger,
    bodyLimit: o.bodyLimit ?? 64 * 1024,
    // The request id is the command id: a UUIDv7, unique across instances and restarts.
    genReqId: () => newEventId(),
    frameworkErrors: (err, req, reply) => {
      problemErrorHandler(err, req, reply);
    },
  }) as unknown as FastifyInstance;
  useStrictValidation(app);
  if (o.gatewaySecret !== undefined)
    requireGatewaySignature(app, o.gatewaySecret, o.signatureWindowMs, o.nonces ?? new NonceGuard(o.signatureWindowMs));

  app.addHook('onRequest', async (req, reply) => {
    reply.header(COMMAND_ID_HEADER, req.id);
    const raw = req.headers[CORRELATION_ID_HEADER];
    if (raw === undefined) {
      // No flow named: a command that emits events reports its new flow (its first event_id) instead.
      reply.header(CORRELATION_ID_HEADER, req.id);
      return;
    }
    if (!isUuid(raw)) {
      reply.header(CORRELATION_ID_HEADER, req.id);
      return sendProblem(
        reply,
        problem(
          400,
          'invalid_request',
          'x-correlation-id must be a UUID (the correlation_id of the flow this request belongs to); leave it out to start a new flow',
          [{ path: `/headers/${CORRELATION_ID_HEADER}`, message: 'must be a UUID', code: 'format' }],
        ),
      );
    }
    reply.header(CORRELATION_ID_HEADER, raw.toLowerCase());
  });

  // Every route, for 405 (a known path with another method) versus 404.
  const routes: { methods: string[]; pattern: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    o.onRoute?.(route);
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => String(m).toUpperCase());
    routes.push({ methods, pattern: routePattern(route.url ?? route.path) });
    // Document (and validate) the command headers on every documented route that declares none.
    const schema = route.schema as { hide?: boolean; headers?: unknown } | undefined;
    if (schema && !schema.hide && schema.headers === undefined) {
      const command = o.idempotency !== undefined && methods.some((m) => m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS');
      schema.headers = Type.Object({
        [CORRELATION_ID_HEADER]: Type.Optional(
          Type.String({
            format: 'uuid',
            description:
              'The flow (correlation_id) this request belongs to; left out, a command starts a new flow. Echoed in the response, with x-command-id.',
          }),
        ),
        ...(command
          ? {
              [IDEMPOTENCY_KEY_HEADER]: Type.Optional(
                Type.String({
                  pattern: '^[\\x21-\\x7e]{1,255}$',
                  description:
                    'Makes the command safe to retry: the same key and request return the stored response (24 h); another request with the key gets 422.',
                }),
              ),
            }
          : {}),
      });
    }
  });
  const idempotency = o.idempotency ? installIdempotency(app, { ...o.idempotency, logger: o.logger }) : undefined;

  await app.register(swagger, {
    openapi: { info: { title: `Albergue ${o.service}`, version: '1.0.0', ...(o.description ? { description: o.description } : {}) } },
  });
  app.get('/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.send(app.swagger()));
  app.get('/metrics', { schema: { hide: true } }, (_req, reply) => {
    reply.header('content-type', o.metrics.contentType);
    return o.metrics.metrics();
  });
  app.get('/health', { schema: { hide: true } }, async (_req, reply) => {
    const results = await Promise.all(
      Object.entries(o.checks).map(async ([name, check]) => {
        try {
          return [name, (await withTimeout(check(), 2_000)) ? 'up' : 'down'] as const;
        } catch (err) {
          return [name, `down: ${(err as Error).message}`] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, s]) => s === 'up');
    return reply.code(ready ? 200 : 503).send({ service: o.service, status: ready ? 'ready' : 'not_ready', checks });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(
        reply,
        problem(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`),
      );
    }
    return sendProblem(reply, problem(404, 'not_found', `there is no route ${req.method} ${path}; see /openapi.json`));
  });
  return { app, ...(idempotency ? { idempotency } : {}) };
}

/** Routes answered without the gateway's signature: probes of the private network (docs/gateway.md). */
const UNSIGNED_ROUTES = new Set(['/health', '/metrics']);
const BODY_DIGEST = Symbol('bodySha256');
const SIGNED_DIGEST = Symbol('signedBodySha256');
type DigestCarrier = { [BODY_DIGEST]?: string; [SIGNED_DIGEST]?: string };

function unauthorized(reply: FastifyReply, reason: string): FastifyReply {
  return sendProblem(
    reply,
    problem(401, 'gateway_signature_required', `this service answers only requests forwarded by the gateway: ${reason}`),
  );
}

/**
 * Refuses (401) every request without a valid gateway signature — decided on the route the router
 * matched, so no spelling of /health reaches another route unsigned — then checks, once the body is
 * read, that its digest is the signed one. A nonce is accepted once within the window, by `nonces`.
 */
function requireGatewaySignature(app: FastifyInstance, secret: string, windowMs: number | undefined, nonces: NonceStore): void {
  app.addHook('onRequest', async (req, reply) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && UNSIGNED_ROUTES.has(req.routeOptions.url ?? '')) return;
    // A route that authenticates its caller by other means (payment's provider callback: the provider's HMAC).
    if (req.routeOptions.config?.gatewaySignature === false) return;
    const header = req.headers[GATEWAY_SIGNATURE_HEADER];
    const clientId = req.headers[GATEWAY_CLIENT_HEADER] ?? '';
    const scopes = req.headers[GATEWAY_SCOPES_HEADER] ?? '';
    if (typeof header !== 'string' && header !== undefined) return unauthorized(reply, 'more than one signature header');
    if (typeof clientId !== 'string' || typeof scopes !== 'string') return unauthorized(reply, 'repeated client headers');
    const now = Date.now();
    const check = verifyGatewaySignature(
      secret,
      header,
      { method: req.method, target: req.raw.url ?? req.url, clientId, scopes },
      now,
      windowMs,
    );
    if (!check.ok) return unauthorized(reply, check.reason);
    if (!(await nonces.firstUse(check.nonce, now))) return unauthorized(reply, 'signature already used (replay)');
    (req as unknown as DigestCarrier)[SIGNED_DIGEST] = check.bodySha256;
  });
  app.addHook('preParsing', async (req, _reply, payload) => {
    const carrier = req as unknown as DigestCarrier;
    if (carrier[SIGNED_DIGEST] === undefined) return payload;
    const hash = createHash('sha256');
    const through = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        carrier[BODY_DIGEST] = hash.digest('hex');
        done();
      },
    });
    payload.on('error', (err) => through.destroy(err));
    (through as unknown as { receivedEncodedLength?: number }).receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => {
      (through as unknown as { receivedEncodedLength: number }).receivedEncodedLength += chunk.length;
    });
    return payload.pipe(through);
  });
  app.addHook('preValidation', async (req, reply) => {
    const carrier = req as unknown as DigestCarrier;
    const signed = carrier[SIGNED_DIGEST];
    if (signed === undefined) return;
    // A request whose body was not read (GET) is checked as an empty body.
    if ((carrier[BODY_DIGEST] ?? EMPTY_BODY_SHA256) !== signed) return unauthorized(reply, 'the body is not the one the gateway signed');
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
