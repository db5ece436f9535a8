import { connect as tcpConnect } from 'node:net';
import { Redis } from 'ioredis';
import type {
  CircuitBreakerStore,
  DeadLetterNotice,
  DeadLetterSource,
  DeadLetterStore,
  DeliveryLedger,
  RedisClient,
  ServiceDeclaration,
} from '@albergue/messaging';
import {
  DlqOperations,
  MemoryDeliveryLedger,
  RedisDeliveryLedger,
  createRedisClient,
  declaredSubscribersOf,
  messagingMetrics,
  subscriberGroups,
} from '@albergue/messaging';
import type { Logger } from '@albergue/platform';
import { createLogger, createMetricsRegistry, listenOrExplain } from '@albergue/platform';
import { OBSERVER_ACCOUNT, aclFromDeclarations } from './application/acl-from-declarations.js';
import { PasswordAuthenticator } from './application/authenticator.js';
import { HttpConsumerFeed } from './application/http-consumers.js';
import type { HttpSubscriptionRegistry } from './application/http-subscriptions.js';
import { BrokerMetrics } from './application/metrics.js';
import { publishEvent } from './application/publish-event.js';
import type { ChannelNotifier, PublishedMessageStore } from './application/ports.js';
import { ReceiptSigner } from './application/receipts.js';
import { AedesBroker } from './adapters/mqtt/aedes-broker.js';
import { memoryStorage, redisStorage } from './adapters/mqtt/persistence.js';
import { buildHttpApi } from './adapters/http/server.js';
import type { HealthReport } from './adapters/http/deps.js';
import { MemoryChannelNotifier, MemoryPublishedMessageStore } from './adapters/memory/memory-message-store.js';
import { MemoryHttpSubscriptionRegistry } from './adapters/memory/memory-subscription-registry.js';
import { RedisChannelNotifier } from './adapters/redis/redis-channel.js';
import { RedisPublishedMessageStore } from './adapters/redis/redis-message-store.js';
import { RedisHttpSubscriptionRegistry } from './adapters/redis/redis-subscription-registry.js';
import { ANONYMOUS_ACCOUNT } from './domain/client-ids.js';
import { DEFAULT_MAX_PACKET_SIZE } from './config/limits.js';

/** The delivery ledger the HTTP consumers and the DLQ/breaker endpoints work on. */
export interface LedgerBundle {
  readonly ledger: DeliveryLedger;
  readonly deadLetters: DeadLetterStore;
  readonly breakers: CircuitBreakerStore;
}

export interface BrokerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 1884; 0 = any free port. */
  readonly mqttPort?: number;
  /** Default 8884; null disables MQTT over WebSocket. */
  readonly wsPort?: number | null;
  /** Default 8090. */
  readonly httpPort?: number;
  /** Redis for MQTT persistence, published messages, the channel, registrations and (by default) the ledger. Unset = memory. */
  readonly redisUrl?: string;
  /**
   * Redis of the delivery ledger when it is not `redisUrl` (LEDGER_REDIS_URL): e.g. a Redis Cluster
   * (`redis+cluster://…`) shared with the services, while the broker's own state stays on one Redis.
   */
  readonly ledgerRedisUrl?: string;
  /**
   * The services this broker serves: one MQTT account each (plus the observer), whose declared
   * publications and subscriptions make the ACL. Given by the composition root; no default, so no
   * account exists for a service the system does not run.
   */
  readonly declarations: readonly ServiceDeclaration[];
  /** MQTT username → password, for each declared service and the observer. */
  readonly users: ReadonlyMap<string, string>;
  readonly adminToken: string;
  /** Clients without credentials get the observer's read-only rights. Default false. */
  readonly allowAnonymous?: boolean;
  /** Accounts on development passwords (warned about at start). */
  readonly devCredentials?: readonly string[];
  /** The ledger; default: the Redis adapters with redisUrl, else in memory (embedded mode). */
  readonly ledger?: LedgerBundle;
  readonly logger?: Logger;
  /** HTTP body limit in bytes (default 256 KiB). */
  readonly bodyLimit?: number;
  /** Largest MQTT packet in bytes (default 256 KiB + 1 KiB: the envelope limit of parseEnvelope plus topic and header room). */
  readonly maxPacketSize?: number;
}

export { DEFAULT_MAX_PACKET_SIZE };

export interface RunningBroker {
  readonly mqttPort: number;
  readonly wsPort: number | undefined;
  readonly httpPort: number;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  readonly mqtt: AedesBroker;
  readonly ledger: LedgerBundle;
  /** Stops HTTP, MQTT and every connection this broker opened. Idempotent. */
  close(): Promise<void>;
}

/** Starts the broker: Aedes (TCP + WebSocket) with auth and the declared ACL, and the HTTP API. */
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const logger = options.logger ?? createLogger('broker');
  const host = options.host ?? '127.0.0.1';
  const declarations = requireDeclarations(options.declarations);
  const acl = aclFromDeclarations(declarations);
  for (const account of acl.accounts()) {
    if (!options.users.has(account.username)) throw new Error(`no password configured for MQTT account "${account.username}"`);
  }
  if (options.allowAnonymous)
    logger.warn(
      'anonymous MQTT access is enabled (BROKER_ALLOW_ANONYMOUS=true): clients without credentials may read every event (observer rights, client ids albergue-anonymous-…)',
    );
  if (options.devCredentials?.length)
    logger.warn(
      { accounts: options.devCredentials },
      'MQTT accounts on development passwords (<username>-dev-password); set BROKER_PASSWORD_<USER> outside development',
    );

  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'error while stopping the broker');
      }
    }
  };

  try {
    let redis: Redis | undefined;
    let redisError: string | undefined;
    let ledgerError: string | undefined;
    let store: PublishedMessageStore;
    let channel: ChannelNotifier;
    let registry: HttpSubscriptionRegistry;
    if (options.redisUrl !== undefined) {
      const r = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
      redis = r;
      // Reported by /health; without a listener ioredis prints every failed reconnection.
      r.on('error', (err: Error) => {
        redisError = err.message;
      });
      r.on('ready', () => {
        redisError = undefined;
      });
      cleanups.push(async () => void (await r.quit().catch(() => r.disconnect())));
      await r.connect();
      store = new RedisPublishedMessageStore(r);
      channel = new RedisChannelNotifier(r);
      registry = new RedisHttpSubscriptionRegistry(r);
    } else {
      store = new MemoryPublishedMessageStore();
      channel = new MemoryChannelNotifier();
      registry = new MemoryHttpSubscriptionRegistry();
    }
    let ledgerConn: RedisClient | undefined;
    const ledgerUrl = options.ledgerRedisUrl ?? options.redisUrl;
    if (options.ledger === undefined && ledgerUrl !== undefined) {
      // The ledger's own connection, made here so its errors are handled and /health sees it.
      const c = createRedisClient(ledgerUrl, { maxRetriesPerRequest: 3 }, options.ledgerRedisUrl ? 'LEDGER_REDIS_URL' : 'REDIS_URL');
      ledgerConn = c;
      c.on('error', (err: Error) => {
        ledgerError = err.message;
      });
      c.on('ready', () => {
        ledgerError = undefined;
      });
      cleanups.push(async () => void (await c.quit().catch(() => c.disconnect())));
    }
    const ledgerBundle = options.ledger ?? (ledgerConn !== undefined ? redisLedger(ledgerConn) : memoryLedger());
    cleanups.push(() => ledgerBundle.ledger.close());

    const registryMetrics = createMetricsRegistry('broker');
    const holder: { mqtt?: AedesBroker; consumers?: HttpConsumerFeed } = {};
    const dlq = new DlqOperations({ ledger: ledgerBundle.ledger, deadLetters: ledgerBundle.deadLetters });
    const metrics = new BrokerMetrics(registryMetrics, {
      connectedClients: () => holder.mqtt?.connectedClients ?? 0,
      dlqDepth: () => ledgerBundle.deadLetters.topics(),
    });
    // dlq_total{service="broker", subscriber, topic}: every dead letter of the HTTP consumers, counted
    // where it is written (invalid envelope, max attempts, lapsed last lease, nack), one owner: messaging.
    const { deadLettered } = messagingMetrics(registryMetrics);
    const countDeadLetter = (n: DeadLetterNotice) => deadLettered.inc({ service: 'broker', subscriber: n.subscriber, topic: n.topic });
    const sources = new Set<object>();
    for (const source of [ledgerBundle.ledger, ledgerBundle.deadLetters] as DeadLetterSource[]) {
      const identity = source.deadLetterEvents ?? source;
      if (!source.onDeadLetter || sources.has(identity)) continue;
      sources.add(identity);
      const off = source.onDeadLetter(countDeadLetter);
      cleanups.push(() => {
        off();
        return Promise.resolve();
      });
    }

    const storage = options.redisUrl !== undefined ? await redisStorage(options.redisUrl, { logger }) : memoryStorage();
    const broker = await AedesBroker.start({
      host,
      mqttPort: options.mqttPort ?? 1884,
      ...(options.wsPort === null ? {} : { wsPort: options.wsPort ?? 8884 }),
      storage,
      authenticator: new PasswordAuthenticator(options.users),
      acl,
      ...(options.allowAnonymous ? { anonymousAccount: OBSERVER_ACCOUNT } : {}),
      logger,
      onRefusal: (kind) => metrics.refusals.inc({ kind }),
      maxPacketSize: options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
      // HTTP consumers' ledgers hold a message before its publisher gets the PUBACK.
      beforeAck: (packet) => holder.consumers?.recordBeforeAck(packet),
    });
    holder.mqtt = broker;
    cleanups.push(() => broker.close());

    const consumers = new HttpConsumerFeed({
      ledger: ledgerBundle.ledger,
      deadLetters: ledgerBundle.deadLetters,
      registry,
      broker,
      logger,
      onRecorded: (topic, outcome) => {
        metrics.recorded.inc({ topic, outcome });
      },
      onRecordFailure: (topic) => metrics.recordFailures.inc({ topic }),
      reserved: reservedSubscriberNames(declarations),
    });
    holder.consumers = consumers;
    cleanups.push(() => consumers.close());
    const restored = await consumers.restore();
    if (restored > 0) logger.info({ subscriptions: restored }, 'HTTP subscriptions restored');

    // Not ready while the MQTT listener is unreachable or any of the broker's Redis connections is
    // away (messages then wait inside the broker, and HTTP publishing answers 503), with the reason.
    const health = async (): Promise<HealthReport> => {
      const mqttUp = await canConnect(host, broker.mqttPort);
      const reasons = mqttUp ? [] : ['MQTT listener not reachable'];
      let redisState: HealthReport['redis'] = 'not-configured';
      if (redis !== undefined) {
        const storageHealth = storage.health();
        if (!storageHealth.ok) reasons.push(storageHealth.reason ?? 'Redis unavailable');
        const apiUp =
          redis.status === 'ready' && (await Promise.race([store.ping(), new Promise<boolean>((r) => setTimeout(r, 1000, false).unref())]));
        if (!apiUp) reasons.push(`Redis connection of the HTTP API ${redis.status}${redisError ? ` (${redisError})` : ''}`);
        const ledgerUp = ledgerConn === undefined || ledgerConn.status === 'ready';
        if (!ledgerUp)
          reasons.push(`Redis connection of the delivery ledger ${ledgerConn?.status ?? ''}${ledgerError ? ` (${ledgerError})` : ''}`);
        redisState = storageHealth.ok && apiUp && ledgerUp ? 'up' : 'down';
      }
      return {
        ready: reasons.length === 0,
        mqtt: mqttUp ? 'up' : 'down',
        redis: redisState,
        ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
      };
    };

    const app = await buildHttpApi(
      {
        adminToken: options.adminToken,
        ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
        publish: (input, o) =>
          publishEvent(
            {
              store,
              channel,
              // Recorded for the HTTP consumers before the broker takes it (the 202 then means it is held).
              mqtt: {
                publish: async (topic, payload, po) => {
                  await consumers.recordBeforeAck({ topic, payload, retain: po.retain });
                  await broker.publish(topic, payload, po);
                },
              },
            },
            input,
            o,
          ),
        retained: (filter) => broker.retained(filter),
        clearRetained: (filter) => broker.clearRetained(filter),
        consumers,
        ledger: ledgerBundle.ledger,
        receipts: new ReceiptSigner(options.adminToken),
        dlq,
        breakers: ledgerBundle.breakers,
        subscribersOf: (topic) => [...new Set(declaredSubscribersOf(declarations, topic).map((s) => s.subscriber))],
        health,
        metrics,
      },
      logger,
    );
    cleanups.push(() => app.close());
    await app.ready();
    const httpPort = await listenOrExplain(app.server, options.httpPort ?? 8090, host, 'BROKER_HTTP_PORT');
    logger.info({ http_port: httpPort, mqtt_port: broker.mqttPort, ws_port: broker.wsPort ?? null }, 'broker started');

    let closing: Promise<void> | undefined;
    return {
      mqttPort: broker.mqttPort,
      wsPort: broker.wsPort,
      httpPort,
      mqttUrl: `mqtt://${host}:${broker.mqttPort}`,
      httpUrl: `http://${host}:${httpPort}`,
      mqtt: broker,
      ledger: ledgerBundle,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The broker has no list of its own: a caller that passes none is told where the list comes from. */
export function requireDeclarations(declarations: unknown): readonly ServiceDeclaration[] {
  if (!Array.isArray(declarations))
    throw new TypeError(
      'the broker needs the declarations of the services it serves (ServiceDeclaration[]): the composition root passes them (scripts/declarations.ts)',
    );
  return declarations as readonly ServiceDeclaration[];
}

/** Names an HTTP consumer may not take: every declared subscriber and service, and the MQTT accounts. */
function reservedSubscriberNames(declarations: readonly ServiceDeclaration[]): Set<string> {
  return new Set([...declarations.flatMap((d) => [d.service, ...subscriberGroups(d)]), OBSERVER_ACCOUNT, ANONYMOUS_ACCOUNT]);
}

function redisLedger(redis: RedisClient): LedgerBundle {
  const ledger = new RedisDeliveryLedger({ redis });
  return { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers };
}

function memoryLedger(): LedgerBundle {
  const ledger = new MemoryDeliveryLedger();
  return { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
