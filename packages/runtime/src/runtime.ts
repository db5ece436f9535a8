import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { EventDefinition } from '@albergue/events';
import type {
  CircuitBreakerStore,
  DeadLetterStore,
  DeliveryLedger,
  Handler,
  HandlerContext,
  Messaging,
  ServiceDeclaration,
} from '@albergue/messaging';
import { MemoryDeliveryLedger, MqttPublisher, RedisDeliveryLedger, createMessaging, stableClientId } from '@albergue/messaging';
import type { Migration, SqlDatabase, SqlTransaction } from '@albergue/outbox';
import {
  OUTBOX_MIGRATIONS,
  Outbox,
  OutboxRelay,
  PgDatabase,
  PgliteDatabase,
  migrate,
  transactionOf,
  transactionalInbox,
} from '@albergue/outbox';
import type { Logger } from '@albergue/platform';
import { createLogger, createMetricsRegistry, envInt, listenOrExplain } from '@albergue/platform';
import type { ServiceConfig } from './config.js';
import { serviceConfig } from './config.js';
import { buildServiceHttp } from './http.js';
import { RedisNonceStore } from './redis-nonce-store.js';
import type { ReadinessCheck } from './http.js';
import { DEFAULT_IDEMPOTENCY_TTL_MS, IDEMPOTENCY_MIGRATION } from './idempotency.js';
import { UnitOfWorkDatabase } from './unit-of-work.js';

/** The delivery ledger with its DLQ and breaker stores (one object in both adapters). */
export interface LedgerBundle {
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  readonly breakers: CircuitBreakerStore;
}

export interface ServiceRuntimeOptions {
  readonly declaration: ServiceDeclaration;
  readonly defaultPort: number;
  /** The service's own tables (versions from 100 up); the outbox and inbox tables come first. */
  readonly migrations: readonly Migration[];
  readonly description?: string;
  readonly env?: Record<string, string | undefined>;
  /** Overrides of what the environment says (tests, the embedded `npm start`). */
  readonly config?: Partial<ServiceConfig>;
  readonly logger?: Logger;
  /** A ledger shared with other in-process services (embedded mode); default Redis with REDIS_URL, else its own memory ledger. */
  readonly ledger?: LedgerBundle;
  /** Relay options (e.g. pollIntervalMs) for tests. */
  readonly relay?: { readonly pollIntervalMs?: number; readonly batchSize?: number };
}

/** The bundle of a ledger adapter (both adapters carry their DLQ and breaker stores). */
export function ledgerBundle(ledger: MemoryDeliveryLedger | RedisDeliveryLedger): LedgerBundle {
  return { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers };
}

/** A handler that runs inside the inbox transaction, with that transaction. */
export type TransactionalHandler<D extends EventDefinition> = (ctx: HandlerContext<D>, tx: SqlTransaction) => Promise<void>;

export interface ServiceRuntime {
  readonly config: ServiceConfig;
  readonly logger: Logger;
  readonly metrics: Registry;
  /**
   * The service's database. Inside an HTTP command sent with an Idempotency-Key it joins the
   * command's transaction (see unit-of-work.ts); use it for everything the service stores.
   */
  readonly db: SqlDatabase;
  readonly outbox: Outbox;
  readonly http: FastifyInstance;
  /** Registers the handler of a declared subscription; it runs in the inbox transaction. */
  on<D extends EventDefinition>(def: D, handler: string, fn: TransactionalHandler<D>): ServiceRuntime;
  /** Registers the declared wildcard handler (`subscribesAll`): every covered event, in the inbox transaction. */
  onAll(handler: string, fn: TransactionalHandler<EventDefinition>): ServiceRuntime;
  /** A background job every `intervalMs` (never overlapping itself; errors are logged, not fatal). */
  every(name: string, intervalMs: number, job: () => Promise<unknown>): ServiceRuntime;
  /**
   * Connects the consumers (creating their persistent sessions) without publishing anything. When
   * several services start together, start every one's consumers first, so that no event published
   * at start-up (seed data, an outbox backlog) is missed by a subscriber that did not exist yet.
   */
  startConsumers(): Promise<void>;
  /** Starts HTTP, the consumers (if not yet), the outbox relay and the jobs; resolves with the HTTP URL. */
  start(): Promise<string>;
  /** Stops in reverse order, finishing in-flight work; idempotent. */
  close(): Promise<void>;
}

/**
 * Composes one service: database (Postgres with a URL, else PGlite under DATA_DIR) with the outbox,
 * inbox and service migrations applied; the outbox relay to MQTT; the service's consumers wired from
 * its declaration, each handler inside a transactional inbox; Fastify with /health, /metrics and
 * /openapi.json. Nothing is listening or consuming until `start()`.
 */
export async function createServiceRuntime(o: ServiceRuntimeOptions): Promise<ServiceRuntime> {
  const service = o.declaration.service;
  const config: ServiceConfig = { ...serviceConfig(service, o.defaultPort, o.env), ...o.config };
  const logger = o.logger ?? createLogger(service);
  const metrics = createMetricsRegistry(service);

  const env = o.env ?? process.env;
  let plainDb: SqlDatabase;
  if (config.databaseUrl) {
    // 0 sends every statement unnamed: for a transaction-mode pooler that cannot keep prepared statements.
    const preparedStatements = envInt('PG_PREPARED_STATEMENTS', 256, { min: 0, max: 10_000 }, env);
    plainDb = new PgDatabase(config.databaseUrl, { logger, preparedStatements });
  } else {
    mkdirSync(config.dataDir, { recursive: true });
    plainDb = await PgliteDatabase.open(config.dataDir);
  }
  const db: SqlDatabase = new UnitOfWorkDatabase(plainDb);
  const opened: (() => Promise<void>)[] = [() => db.close()];
  try {
    await migrate(plainDb, [...OUTBOX_MIGRATIONS, IDEMPOTENCY_MIGRATION, ...o.migrations]);
  } catch (err) {
    await db.close();
    throw err;
  }
  const outbox = new Outbox(db, (err) => logger.warn({ err }, 'outbox notify failed (the relay polls anyway)'));

  const ownsLedger = !o.ledger;
  const bundle: LedgerBundle =
    o.ledger ?? ledgerBundle(config.redisUrl ? new RedisDeliveryLedger({ url: config.redisUrl }) : new MemoryDeliveryLedger());
  // From the service's env (not only process.env): two instances can then run in one process (tests).
  const instance = (o.env ?? process.env).INSTANCE_ID ?? '0';
  const mqtt = {
    url: config.mqttUrl,
    username: config.mqttUsername,
    password: config.mqttPassword,
    protocolVersion: config.mqttProtocolVersion,
  };

  const messaging: Messaging | undefined =
    o.declaration.subscribes.length > 0 || o.declaration.subscribesAll
      ? createMessaging({
          declaration: o.declaration,
          mqtt,
          subscriptionMode: config.mqttSubscriptionMode,
          instanceId: instance,
          ledger: bundle.ledger,
          deadLetters: bundle.deadLetters,
          breakers: bundle.breakers,
          logger,
          metrics,
          inbox: transactionalInbox(db, outbox),
        })
      : undefined;

  let publisher: MqttPublisher | undefined;
  let relay: OutboxRelay | undefined;
  const checks: Record<string, ReadinessCheck> = {
    database: async () => (await db.query('SELECT 1 AS ok')).rowCount === 1,
    // Not ready with the reason (e.g. "connack refused: bad username or password"); clients keep reconnecting.
    mqtt: () => {
      if (!publisher) return Promise.reject(new Error('outbox relay not connected yet'));
      const st = publisher.status();
      return st.connected ? Promise.resolve(true) : Promise.reject(new Error(st.reason ?? 'disconnected'));
    },
  };
  // A consumer that cannot record or lease while messages wait (longer than its visibility timeout),
  // or whose MQTT connection is refused, makes the service not ready, with the reason.
  if (messaging) {
    checks.consumers = () => {
      const h = messaging.health();
      return h.ok ? Promise.resolve(true) : Promise.reject(new Error(h.reason ?? 'not healthy'));
    };
  }
  const redisLedger = bundle.ledger;
  if (redisLedger instanceof RedisDeliveryLedger) checks.redis = async () => (await redisLedger.conn.redis.ping()) === 'PONG';
  const idempotency = {
    db: plainDb,
    // At least 24 h: a client may retry a command for a day and still get its first answer.
    ttlMs: envInt('IDEMPOTENCY_TTL_MS', DEFAULT_IDEMPOTENCY_TTL_MS, { min: DEFAULT_IDEMPOTENCY_TTL_MS }, env),
    waitMs: envInt('IDEMPOTENCY_WAIT_MS', 10_000, { min: 0 }, env),
    leaseMs: envInt('IDEMPOTENCY_LEASE_MS', 60_000, { min: 100 }, env),
  };
  const { app: http, idempotency: keys } = await buildServiceHttp({
    service,
    logger,
    metrics,
    checks,
    idempotency,
    ...(config.gatewaySecret !== undefined ? { gatewaySecret: config.gatewaySecret } : {}),
    // Every instance of the service refuses a nonce any of them accepted (memory when there is no Redis).
    ...(config.gatewaySecret !== undefined && redisLedger instanceof RedisDeliveryLedger
      ? { nonces: new RedisNonceStore(redisLedger.conn.redis, { logger, keyPrefix: redisLedger.conn.ns }) }
      : {}),
    ...(o.description ? { description: o.description } : {}),
  });

  const jobs: { name: string; intervalMs: number; job: () => Promise<unknown> }[] = [];
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  let started = false;
  let consuming = false;
  let closing: Promise<void> | undefined;

  if (keys)
    jobs.push({
      name: 'purge-idempotency-keys',
      intervalMs: envInt('IDEMPOTENCY_PURGE_MS', 60_000, { min: 50 }, env),
      job: () => keys.purgeExpired(),
    });

  const runtime: ServiceRuntime = {
    config,
    logger,
    metrics,
    db,
    outbox,
    http,
    on(def, handler, fn) {
      if (!messaging) throw new Error(`${service} declares no subscriptions; add ${handler} to its declaration`);
      const wrapped: Handler<typeof def> = async (ctx) => fn(ctx, transactionOf(ctx));
      messaging.on(def, handler, wrapped);
      return runtime;
    },
    onAll(handler, fn) {
      if (!messaging) throw new Error(`${service} declares no wildcard subscription; add ${handler} to its declaration`);
      messaging.onAll(handler, async (ctx) => fn(ctx, transactionOf(ctx)));
      return runtime;
    },
    every(name, intervalMs, job) {
      if (started) throw new Error('register jobs before start()');
      jobs.push({ name, intervalMs, job });
      return runtime;
    },
    async startConsumers() {
      if (consuming || !messaging) return;
      consuming = true;
      await messaging.start();
      opened.push(() => messaging.close());
    },
    async start() {
      if (started) throw new Error(`${service} already started`);
      started = true;
      const port = await listenOrExplain(http.server, config.port, config.host, config.portVar);
      await http.ready();
      opened.push(() => http.close());
      // Subscribe before publishing: a consumer's persistent session must exist before events it
      // wants are published (MQTT keeps messages only for sessions it knows).
      await runtime.startConsumers();
      publisher = await MqttPublisher.connect(config.mqttUrl, {
        clientId: stableClientId(`${service}-outbox`, instance),
        username: config.mqttUsername,
        password: config.mqttPassword,
        clean: true,
        protocolVersion: config.mqttProtocolVersion,
        onConnectionError: (err, description) => logger.warn({ err, client: 'outbox' }, `mqtt: ${description}; retrying`),
      });
      opened.push(() => publisher!.close());
      relay = new OutboxRelay(db, publisher, { logger, metrics, ...o.relay });
      await relay.start();
      opened.push(() => relay!.stop());
      for (const j of jobs) {
        let busy = false;
        const t = setInterval(() => {
          if (busy || closing) return;
          busy = true;
          const p = j
            .job()
            .catch((err: unknown) => logger.error({ err, job: j.name }, 'background job failed'))
            .finally(() => {
              busy = false;
              running.delete(p);
            });
          running.add(p);
        }, j.intervalMs);
        timers.push(t);
      }
      if (ownsLedger) opened.unshift(() => bundle.ledger.close());
      const url = `http://${config.host}:${port}`;
      logger.info(
        {
          url,
          database: config.databaseUrl ? 'postgres' : config.dataDir,
          mqtt: config.mqttUrl,
          mqtt_subscription_mode: config.mqttSubscriptionMode,
          ledger: config.redisUrl ? 'redis' : 'memory',
        },
        `${service} started`,
      );
      return url;
    },
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        await Promise.allSettled([...running]);
        for (const stop of opened.reverse()) {
          try {
            await stop();
          } catch (err) {
            logger.warn({ err }, 'error while stopping');
          }
        }
      })();
      return closing;
    },
  };
  return runtime;
}
