import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import type { Registry } from 'prom-client';
import { RateLimitExceeded, newEnvelope, newEventId } from '@albergue/events';
import { MqttPublisher, stableClientId } from '@albergue/messaging';
import type { Logger } from '@albergue/platform';
import { createLogger, createMetricsRegistry, listenOrExplain } from '@albergue/platform';
import {
  GATEWAY_CLIENT_HEADER,
  GATEWAY_SCOPES_HEADER,
  GATEWAY_SIGNATURE_HEADER,
  EMPTY_BODY_SHA256,
  signGatewayRequest,
} from '@albergue/platform/gateway-signature';
import type { Client } from './application/keys.js';
import { KeyRing } from './application/keys.js';
import type { RateLimit, RateLimiter } from './application/ports.js';
import { createGatewayApp } from './adapters/http/gateway-app.js';
import { CombinedOpenApi } from './adapters/http/openapi.js';
import { MemoryRateLimiter } from './adapters/memory/memory-rate-limiter.js';
import { RedisRateLimiter } from './adapters/redis/redis-rate-limiter.js';
import type { GatewayConfig } from './config.js';
import { gatewayConfig } from './config.js';
import type { PolicyEntry } from './domain/policy.js';
import { DEFAULT_POLICY, RoutePolicy } from './domain/policy.js';
import { httpApi } from './http.js';

export interface GatewayServiceOptions {
  readonly env?: Record<string, string | undefined>;
  /** Overrides of what the environment says (tests, the embedded `npm start`). */
  readonly config?: Partial<GatewayConfig>;
  readonly logger?: Logger;
  /** The route policy (default DEFAULT_POLICY). */
  readonly policy?: readonly PolicyEntry[];
  /** Redis key prefix of the buckets (tests; default `gw:`). */
  readonly redisPrefix?: string;
  /** How old the combined OpenAPI may get before it is fetched again (default 60 s). */
  readonly openapiMaxAgeMs?: number;
}

export interface GatewayRuntime {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly metrics: Registry;
  readonly http: FastifyInstance;
  readonly limiter: RateLimiter;
  /** Starts listening (and connects the MQTT publisher in the background); resolves with the URL. */
  start(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The gateway wired: keys, policy, rate limiter (Redis with REDIS_URL, else memory), the combined
 * OpenAPI, and an MQTT publisher for RateLimitExceeded. It has no database: see docs/gateway.md for
 * what a failed publish loses.
 */
export async function createGatewayService(o: GatewayServiceOptions = {}): Promise<GatewayRuntime> {
  const fromEnv = gatewayConfig(o.env ?? process.env);
  // Upstreams given in code (the embedded start, tests) replace those contexts only.
  const config: GatewayConfig = { ...fromEnv, ...o.config, upstreams: { ...fromEnv.upstreams, ...o.config?.upstreams } };
  const logger = o.logger ?? createLogger('gateway');
  const metrics = createMetricsRegistry('gateway');
  const policy = new RoutePolicy(o.policy ?? DEFAULT_POLICY);
  const redisLimiter = config.redisUrl
    ? new RedisRateLimiter({ url: config.redisUrl, logger, ...(o.redisPrefix !== undefined ? { prefix: o.redisPrefix } : {}) })
    : undefined;
  const limiter: RateLimiter = redisLimiter ?? new MemoryRateLimiter();

  let publisher: MqttPublisher | undefined;
  let publishFailures = 0;
  const onRateLimited = (client: Client, route: string, limit: RateLimit) => {
    const envelope = newEnvelope(RateLimitExceeded, {
      client_key_hash: client.keyHash,
      route: route.slice(0, 200),
      limit: limit.limit,
      window_s: limit.windowS,
      at: new Date().toISOString(),
    });
    const message = { topic: RateLimitExceeded.topic, eventId: envelope.event_id, body: JSON.stringify(envelope) };
    if (!publisher) {
      logger.warn({ client_id: client.clientId, route }, 'RateLimitExceeded not published: MQTT publisher not started');
      return;
    }
    void publisher.publish([message]).then(([r]) => {
      if (r && !r.ok) {
        publishFailures++;
        // A signal, not money: logged and counted, not retried (docs/gateway.md).
        logger.warn({ err: r.error, client_id: client.clientId, route, event_id: envelope.event_id }, 'RateLimitExceeded not published');
      }
    });
  };

  // The services' documents, fetched like any forwarded request: signed when a shared secret is set.
  const fetchJson = async (url: string): Promise<unknown> => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (config.secret !== undefined) {
      const u = new URL(url);
      headers[GATEWAY_CLIENT_HEADER] = 'gateway';
      headers[GATEWAY_SCOPES_HEADER] = '';
      headers[GATEWAY_SIGNATURE_HEADER] = signGatewayRequest(config.secret, {
        method: 'GET',
        target: u.pathname + u.search,
        timestampMs: Date.now(),
        nonce: newEventId(),
        clientId: 'gateway',
        scopes: '',
        bodySha256: EMPTY_BODY_SHA256,
      });
    }
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(3_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  };
  const openapi = new CombinedOpenApi({
    sources: Object.entries(config.upstreams).map(([context, url]) => ({ context, url })),
    policy,
    fetchJson,
    logger,
    ...(o.openapiMaxAgeMs !== undefined ? { maxAgeMs: o.openapiMaxAgeMs } : {}),
  });

  const http = createGatewayApp({ logger, bodyLimit: config.bodyLimit });
  await http.register(
    httpApi({
      logger,
      metrics,
      keys: new KeyRing(config.keys),
      policy,
      limiter,
      keyLimit: config.keyLimit,
      ipLimit: config.ipLimit,
      upstreams: config.upstreams,
      secret: config.secret,
      openapi,
      upstreamTimeoutMs: config.upstreamTimeoutMs,
      onRateLimited,
      health: () => {
        const away = redisLimiter?.degraded();
        const mqttStatus = publisher?.status();
        return {
          rate_limiter: redisLimiter ? (away === undefined ? 'redis' : `degraded (per instance in memory): ${away}`) : 'memory',
          mqtt: mqttStatus === undefined ? 'not started' : mqttStatus.connected ? 'up' : `down: ${mqttStatus.reason ?? 'disconnected'}`,
          rate_limit_events_not_published: String(publishFailures),
        };
      },
    }),
  );

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    metrics,
    http,
    limiter,
    async start() {
      const port = await listenOrExplain(http.server, config.port, config.host, config.portVar);
      await http.ready();
      // In the background: the gateway serves requests whether or not the broker is there yet.
      const client = mqtt.connect(config.mqttUrl, {
        clientId: stableClientId('gateway', config.instanceId),
        username: config.mqttUsername,
        password: config.mqttPassword,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 5000,
        reconnectOnConnackError: true,
      });
      client.on('error', () => undefined); // surfaced by the publisher's status() and failed publishes
      publisher = new MqttPublisher(client, {
        ackTimeoutMs: 5_000,
        onConnectionError: (err, description) => logger.warn({ err }, `mqtt: ${description}; retrying`),
      });
      const url = `http://${config.host}:${port}`;
      logger.info({ url, limiter: config.redisUrl ? 'redis' : 'memory', keys: config.keys.length }, 'gateway started');
      return url;
    },
    close() {
      closing ??= (async () => {
        await http.close();
        await publisher?.close();
        await limiter.close();
      })();
      return closing;
    },
  };
}
