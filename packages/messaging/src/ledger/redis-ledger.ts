/**
 * The Redis delivery ledger, dead-letter store and circuit-breaker store (ARCHITECTURE §3): the
 * state every instance of a subscriber shares. Every ledger operation is one Lua script, atomic on
 * the server and timed by the server clock, and record / lease / ackMany take a whole batch in one
 * round trip. Keys: redis-keys.ts (`LEDGER_REDIS_KEYS`); layout: packages/messaging/README.md.
 *
 * On Redis Cluster (a `redis+cluster://` URL, or a Cluster client passed in) every script serves one
 * subscriber and touches only that subscriber's slot (hash tag `{<subscriber>}`); calls that span
 * subscribers (ackMany, deliveries, the breaker list, the DLQ by topic) are split per subscriber.
 * Cluster scripts run with the `#!lua` shebang, so Redis (≥ 7.0) refuses any key outside the slot.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type {
  AckOutcome,
  AttemptError,
  BreakerState,
  BreakerStatus,
  CircuitBreakerStore,
  DeadLetter,
  DeadLetterInput,
  DeadLetterNotice,
  DeadLetterStore,
  Delivery,
  DeliveryFact,
  DeliveryLedger,
  DeliveryQuery,
  IncomingMessage,
  NackOptions,
  NackOutcome,
  RecordOutcome,
  SubscriptionPolicy,
} from '../ports/ledger.js';
import { DEFAULT_MAX_DLQ_BODY_BYTES, DeadLetterEvents, boundedBody, completeDeadLetter } from '../dlq/entries.js';
import { DEFAULT_POLICY, MAX_DELIVERY_QUERIES } from '../ports/ledger.js';
import { assertKeyPart, validatePolicy } from './policy.js';
import { ledgerKey } from './redis-keys.js';
import { createRedisClient } from './redis-connection.js';
import type { RedisClient } from './redis-connection.js';
import { ACK, BREAKERS, DELIVERIES, DEPTH, DLQ_REMOVE, IS_PROCESSED, LEASE, NACK, RECORD } from './redis-scripts.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisLedgerOptions {
  /** A connection to share (not closed by `close`), a single server or a Cluster. Without it one is opened to `url`. */
  readonly redis?: RedisClient;
  /** Default: REDIS_URL, else redis://127.0.0.1:6379. `redis+cluster://host:port,host:port` names a Redis Cluster. */
  readonly url?: string;
  /** Prefix of every key (e.g. `test_1a2b:`), to isolate tests or tenants; no '{' or '}'. Default none. */
  readonly namespace?: string;
  /** Policy of a topic recorded before any `register` for it. Default DEFAULT_POLICY. */
  readonly defaultPolicy?: SubscriptionPolicy;
  /** Prefix of a raw body kept by `DeadLetterStore.add` (default 4 KiB). */
  readonly maxDlqBodyBytes?: number;
}

type Reply = Promise<unknown>;
interface LedgerCommands {
  albergueLedgerRecord(...args: (string | number | Buffer)[]): Reply;
  albergueLedgerLease(...args: (string | number)[]): Reply;
  albergueLedgerAck(...args: (string | number)[]): Reply;
  albergueLedgerNack(...args: (string | number)[]): Reply;
  albergueLedgerIsProcessed(...args: (string | number)[]): Reply;
  albergueLedgerDepth(...args: (string | number)[]): Reply;
  albergueLedgerBreakers(...args: (string | number)[]): Reply;
  albergueLedgerDlqRemove(...args: (string | number)[]): Reply;
  albergueLedgerDeliveries(...args: (string | number)[]): Reply;
}

const SCRIPTS: Record<keyof LedgerCommands, string> = {
  albergueLedgerRecord: RECORD,
  albergueLedgerLease: LEASE,
  albergueLedgerAck: ACK,
  albergueLedgerNack: NACK,
  albergueLedgerIsProcessed: IS_PROCESSED,
  albergueLedgerDepth: DEPTH,
  albergueLedgerBreakers: BREAKERS,
  albergueLedgerDlqRemove: DLQ_REMOVE,
  albergueLedgerDeliveries: DELIVERIES,
};

/** How often a connection writes a subscriber it keeps recording for to the global registry again. */
const REGISTRY_REFRESH_MS = 60_000;

/** The names of the ledger's script commands (on the client, through defineCommand). */
export const SCRIPT_NAMES = Object.keys(SCRIPTS) as readonly (keyof LedgerCommands)[];

/** The connection and scripts shared by the three Redis stores. */
export class RedisLedgerConnection {
  readonly redis: RedisClient;
  /** True on Redis Cluster. */
  readonly cluster: boolean;
  readonly ns: string;
  readonly defaultPolicyJson: string;
  readonly maxDlqBodyBytes: number;
  /** Dead letters written through this connection (by any of the three stores): dlq_total counts them. */
  readonly deadLetterEvents = new DeadLetterEvents();
  private readonly owned: boolean;
  /** Subscribers written to the global registry through this connection, and when. */
  private readonly registered = new Map<string, number>();

  constructor(options: RedisLedgerOptions = {}) {
    const ns = options.namespace ?? '';
    // A brace in the namespace would become the hash tag of every key (one slot for the whole ledger).
    if (/[{}]/.test(ns)) throw new Error(`invalid ledger namespace ${JSON.stringify(ns)}: no '{' or '}' (it prefixes hash-tagged keys)`);
    this.owned = options.redis === undefined;
    this.redis = options.redis ?? createRedisClient(options.url ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL, { maxRetriesPerRequest: 3 });
    this.cluster = this.redis instanceof Cluster;
    this.ns = ns;
    this.defaultPolicyJson = JSON.stringify(options.defaultPolicy ?? DEFAULT_POLICY);
    this.maxDlqBodyBytes = options.maxDlqBodyBytes ?? DEFAULT_MAX_DLQ_BODY_BYTES;
    // KEYS[1] of every script is `routingKey(subscriber)`: it sends the call to the subscriber's slot.
    // On a cluster the shebang makes Redis refuse a key of any other slot (compat-mode scripts do not check).
    const shebang = this.cluster ? '#!lua\n' : '';
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in this.redis)) this.redis.defineCommand(name, { numberOfKeys: 1, lua: shebang + lua });
    }
  }

  /** A key in the slot of `subscriber`'s keys (its topic set): KEYS[1] of every script call. */
  routingKey(subscriber: string): string {
    return this.ns + ledgerKey('topics', subscriber);
  }

  /**
   * Adds `subscriber` to the global registry `mqtt:ledger:subscribers` (its own slot on a cluster,
   * so never from a script): before anything of the subscriber is written, and again at most once
   * per REGISTRY_REFRESH_MS (a registry lost with Redis' data is written again).
   */
  async registerSubscriber(subscriber: string): Promise<void> {
    const at = this.registered.get(subscriber);
    if (at !== undefined && Date.now() - at < REGISTRY_REFRESH_MS) return;
    await this.redis.sadd(this.key(ledgerKey('subscribers')), subscriber);
    this.registered.set(subscriber, Date.now());
  }

  /** Every subscriber of the global registry, sorted. */
  async subscribers(): Promise<string[]> {
    return (await this.redis.smembers(this.key(ledgerKey('subscribers')))).sort();
  }

  get cmd(): LedgerCommands {
    return this.redis as unknown as LedgerCommands;
  }

  key(...parts: string[]): string {
    return this.ns + parts.join(':');
  }

  async close(): Promise<void> {
    if (this.owned && this.redis.status !== 'end') await this.redis.quit();
  }
}

const num = (v: unknown): number => Number(v);
const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));

export class RedisDeliveryLedger implements DeliveryLedger {
  readonly conn: RedisLedgerConnection;
  readonly deadLetters: RedisDeadLetterStore;
  readonly breakers: RedisCircuitBreakerStore;

  constructor(options: RedisLedgerOptions | RedisLedgerConnection = {}) {
    this.conn = options instanceof RedisLedgerConnection ? options : new RedisLedgerConnection(options);
    this.deadLetters = new RedisDeadLetterStore(this.conn);
    this.breakers = new RedisCircuitBreakerStore(this.conn);
  }

  async register(subscriber: string, topic: string, policy: SubscriptionPolicy): Promise<void> {
    assertKeyPart('subscriber', subscriber);
    assertKeyPart('topic', topic);
    validatePolicy(subscriber, topic, policy);
    const c = this.conn;
    await c.registerSubscriber(subscriber);
    const res = await c.redis
      .multi()
      .hset(c.key(ledgerKey('policies', subscriber)), topic, JSON.stringify(policy))
      .sadd(c.key(ledgerKey('topics', subscriber)), topic)
      .exec();
    const failed = res?.find(([err]) => err)?.[0];
    if (failed) throw failed;
  }

  async record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
    if (messages.length === 0) return [];
    assertKeyPart('subscriber', subscriber);
    const args: (string | Buffer)[] = [
      this.conn.routingKey(subscriber),
      this.conn.ns,
      subscriber,
      this.conn.defaultPolicyJson,
      String(messages.length),
    ];
    for (const m of messages) {
      assertKeyPart('topic', m.topic);
      // Bytes as received go to the socket as they are (no second UTF-8 encoding of every body).
      args.push(m.topic, m.eventId, m.bytes ? asBuffer(m.bytes) : m.body);
    }
    await this.conn.registerSubscriber(subscriber);
    const res = (await this.conn.cmd.albergueLedgerRecord(...args)) as number[];
    return res.map((r) => (r === 1 ? 'recorded' : 'duplicate'));
  }

  async lease(subscriber: string, max: number): Promise<Delivery[]> {
    if (max <= 0) return [];
    const tokenPrefix = `${randomBytes(8).toString('hex')}.`;
    const res = (await this.conn.cmd.albergueLedgerLease(
      this.conn.routingKey(subscriber),
      this.conn.ns,
      subscriber,
      Math.floor(max),
      tokenPrefix,
    )) as unknown[];
    const dead = num(res[1]);
    for (let i = 2; i < 2 + dead * 2; i += 2) {
      this.conn.deadLetterEvents.emit({ subscriber, topic: str(res[i]), id: str(res[i + 1]), reason: 'visibility_timeout' });
    }
    const out: Delivery[] = [];
    for (let i = 2 + dead * 2; i + 8 < res.length; i += 9) {
      const errs = str(res[i + 8]);
      out.push({
        subscriber,
        topic: str(res[i]),
        eventId: str(res[i + 1]),
        body: str(res[i + 2]),
        attempt: num(res[i + 3]),
        maxAttempts: num(res[i + 4]),
        leaseToken: str(res[i + 5]),
        leaseExpiresAt: num(res[i + 6]),
        firstReceivedAt: num(res[i + 7]),
        errors: errs === '' ? [] : (JSON.parse(errs) as AttemptError[]),
      });
    }
    return out;
  }

  async ack(delivery: Delivery): Promise<AckOutcome> {
    const [r] = await this.ackMany([delivery]);
    return r ?? 'stale';
  }

  async ackMany(deliveries: readonly Delivery[]): Promise<AckOutcome[]> {
    if (deliveries.length === 0) return [];
    // One script call per subscriber (one slot each on a cluster); usually a batch has one.
    const out: AckOutcome[] = [];
    await Promise.all(
      [...bySubscriber(deliveries)].map(async ([subscriber, group]) => {
        const args: string[] = [this.conn.routingKey(subscriber), this.conn.ns, String(group.length)];
        for (const { item: d } of group) args.push(d.subscriber, d.topic, d.eventId, d.leaseToken);
        const res = (await this.conn.cmd.albergueLedgerAck(...args)) as number[];
        group.forEach(({ index }, i) => (out[index] = res[i] === 1 ? 'acked' : 'stale'));
      }),
    );
    return out;
  }

  async nack(delivery: Delivery, error: string, options: NackOptions = {}): Promise<NackOutcome> {
    const r = str(
      await this.conn.cmd.albergueLedgerNack(
        this.conn.routingKey(delivery.subscriber),
        this.conn.ns,
        delivery.subscriber,
        delivery.topic,
        delivery.eventId,
        delivery.leaseToken,
        error,
        Math.random(),
        options.permanent ? '1' : '0',
        options.code ?? 'permanent_error',
      ),
    ) as NackOutcome;
    if (r === 'dead-lettered') {
      this.conn.deadLetterEvents.emit({
        subscriber: delivery.subscriber,
        topic: delivery.topic,
        id: delivery.eventId,
        reason: options.permanent ? 'permanent_error' : 'max_attempts',
      });
    }
    return r;
  }

  get deadLetterEvents(): DeadLetterEvents {
    return this.conn.deadLetterEvents;
  }

  /** Every dead letter written through this ledger's connection (also `deadLetters.onDeadLetter`). */
  onDeadLetter(listener: (notice: DeadLetterNotice) => void): () => void {
    return this.conn.deadLetterEvents.on(listener);
  }

  async isProcessed(subscriber: string, topic: string, eventId: string): Promise<boolean> {
    return (
      num(await this.conn.cmd.albergueLedgerIsProcessed(this.conn.routingKey(subscriber), this.conn.ns, subscriber, topic, eventId)) === 1
    );
  }

  async depth(subscriber: string): Promise<Record<string, number>> {
    const res = (await this.conn.cmd.albergueLedgerDepth(this.conn.routingKey(subscriber), this.conn.ns, subscriber)) as unknown[];
    const out: Record<string, number> = {};
    for (let i = 0; i + 1 < res.length; i += 2) out[str(res[i])] = num(res[i + 1]);
    return out;
  }

  async deliveries(queries: readonly DeliveryQuery[]): Promise<DeliveryFact[]> {
    if (queries.length > MAX_DELIVERY_QUERIES)
      throw new Error(`at most ${MAX_DELIVERY_QUERIES} delivery queries per call (got ${queries.length})`);
    if (queries.length === 0) return [];
    for (const q of queries) {
      assertKeyPart('subscriber', q.subscriber);
      assertKeyPart('topic', q.topic);
    }
    // One read-only script call per subscriber (one slot each on a cluster).
    const rows: string[][] = [];
    const nows: number[] = [];
    await Promise.all(
      [...bySubscriber(queries)].map(async ([subscriber, group]) => {
        const args: string[] = [this.conn.routingKey(subscriber), this.conn.ns, String(group.length)];
        for (const { item: q } of group) args.push(q.subscriber, q.topic, q.eventId);
        const res = (await this.conn.cmd.albergueLedgerDeliveries(...args)) as unknown[];
        group.forEach(({ index }, i) => {
          rows[index] = res.slice(1 + i * 10, 11 + i * 10).map(str);
          nows[index] = num(res[0]);
        });
      }),
    );
    return queries.map((q, i): DeliveryFact => {
      const r = rows[i]!;
      const now = nows[i]!;
      const [att, tok, exp, errs, first, ready, processed, dlq, maxAttempts, dedupWindowMs] = r as [
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const base = { subscriber: q.subscriber, topic: q.topic, eventId: q.eventId };
      const dl = dlq === '' ? undefined : (JSON.parse(dlq) as DeadLetter);
      const withDl = dl
        ? {
            deadLetter: {
              id: dl.id,
              reason: dl.reason,
              ...(dl.code !== undefined ? { code: dl.code } : {}),
              attempts: dl.attempts,
              errors: dl.errors,
              firstFailureAt: dl.firstFailureAt,
              deadLetteredAt: dl.deadLetteredAt,
            },
          }
        : {};
      if (att !== '') {
        const common = {
          ...base,
          attempts: num(att),
          maxAttempts: num(maxAttempts),
          errors: errs === '' ? [] : (JSON.parse(errs) as AttemptError[]),
          firstReceivedAt: num(first),
          ...withDl,
        };
        if (tok !== '' && num(exp) > now) return { ...common, state: 'leased', leaseExpiresAt: num(exp) };
        return { ...common, state: 'pending', nextAttemptAt: tok !== '' ? num(exp) : ready !== '' ? num(ready) : num(first) };
      }
      if (processed !== '' && num(processed) > now)
        return { ...base, state: 'processed', attempts: 0, errors: [], processedAt: num(processed) - num(dedupWindowMs), ...withDl };
      if (dl) return { ...base, state: 'dead_lettered', attempts: dl.attempts, errors: dl.errors, ...withDl };
      return { ...base, state: 'unknown', attempts: 0, errors: [] };
    });
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

export class RedisDeadLetterStore implements DeadLetterStore {
  readonly conn: RedisLedgerConnection;

  constructor(options: RedisLedgerOptions | RedisLedgerConnection = {}) {
    this.conn = options instanceof RedisLedgerConnection ? options : new RedisLedgerConnection(options);
  }

  async add(input: DeadLetterInput): Promise<void> {
    assertKeyPart('subscriber', input.subscriber);
    assertKeyPart('topic', input.topic);
    const entry: DeadLetter = { ...input, ...boundedBody(input.body, this.conn.maxDlqBodyBytes) };
    const c = this.conn;
    const field = `${entry.subscriber}:${entry.id}`;
    const at = Date.parse(entry.deadLetteredAt);
    await c.registerSubscriber(entry.subscriber);
    const res = await c.redis
      .multi()
      .hset(c.key(ledgerKey('dlq', entry.subscriber, entry.topic)), field, JSON.stringify(entry))
      .zadd(c.key(ledgerKey('dlqOrder', entry.subscriber, entry.topic)), Number.isNaN(at) ? Date.now() : at, field)
      .sadd(c.key(ledgerKey('dlqTopics', entry.subscriber)), entry.topic)
      .exec();
    const [err, created] = res?.[0] ?? [new Error('DLQ write was discarded'), 0];
    if (err) throw err;
    // HSET answers 1 for a new field: the same entry written again (same bytes redelivered) is not a new dead letter.
    if (num(created) === 1)
      c.deadLetterEvents.emit({ subscriber: entry.subscriber, topic: entry.topic, id: entry.id, reason: entry.reason });
  }

  get deadLetterEvents(): DeadLetterEvents {
    return this.conn.deadLetterEvents;
  }

  onDeadLetter(listener: (notice: DeadLetterNotice) => void): () => void {
    return this.conn.deadLetterEvents.on(listener);
  }

  /** Topics with dead letters and their depth (every subscriber's entries of the topic). */
  async topics(): Promise<{ topic: string; depth: number }[]> {
    const c = this.conn;
    const pairs = (
      await Promise.all(
        (await c.subscribers()).map(async (sub) =>
          (await c.redis.smembers(c.key(ledgerKey('dlqTopics', sub)))).map((topic) => ({ sub, topic })),
        ),
      )
    ).flat();
    const depths = await Promise.all(pairs.map(({ sub, topic }) => c.redis.hlen(c.key(ledgerKey('dlq', sub, topic)))));
    const byTopic = new Map<string, number>();
    pairs.forEach(({ topic }, i) => byTopic.set(topic, (byTopic.get(topic) ?? 0) + depths[i]!));
    return [...byTopic]
      .filter(([, depth]) => depth > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([topic, depth]) => ({ topic, depth }));
  }

  /**
   * The topic's dead letters oldest first across subscribers: each subscriber's first
   * offset + limit by time, merged in the order one sorted set would give (time, then field).
   */
  async list(topic: string, options: { offset?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    const offset = Math.max(0, Math.floor(options.offset ?? 0));
    const limit = Math.max(0, Math.floor(options.limit ?? 100));
    if (limit === 0) return [];
    const c = this.conn;
    const heads = await Promise.all(
      (await c.subscribers()).map(async (sub) => {
        const flat = await c.redis.zrange(c.key(ledgerKey('dlqOrder', sub, topic)), 0, offset + limit - 1, 'WITHSCORES');
        const out: { sub: string; field: string; at: number }[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) out.push({ sub, field: flat[i]!, at: Number(flat[i + 1]) });
        return out;
      }),
    );
    const page = heads
      .flat()
      .sort((a, b) => a.at - b.at || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0))
      .slice(offset, offset + limit);
    if (page.length === 0) return [];
    const values = await Promise.all(page.map(({ sub, field }) => c.redis.hget(c.key(ledgerKey('dlq', sub, topic)), field)));
    return values.filter((v): v is string => v !== null).map(parseEntry);
  }

  async get(topic: string, id: string, subscriber?: string): Promise<DeadLetter | undefined> {
    const c = this.conn;
    const subs = subscriber !== undefined ? [subscriber] : await c.subscribers();
    const values = await Promise.all(subs.map((sub) => c.redis.hget(c.key(ledgerKey('dlq', sub, topic)), `${sub}:${id}`)));
    const found = values.filter((v): v is string => v !== null).map(parseEntry);
    found.sort((a, b) => Date.parse(a.deadLetteredAt) - Date.parse(b.deadLetteredAt));
    return found[0];
  }

  async remove(topic: string, ids?: readonly string[], subscriber?: string): Promise<number> {
    if (ids && ids.length === 0) return 0;
    const c = this.conn;
    const subs = subscriber !== undefined ? [subscriber] : await c.subscribers();
    const removed = await Promise.all(
      subs.map(async (sub) =>
        num(await c.cmd.albergueLedgerDlqRemove(c.routingKey(sub), c.ns, topic, sub, ids ? String(ids.length) : '-1', ...(ids ?? []))),
      ),
    );
    return removed.reduce((a, b) => a + b, 0);
  }
}

/** A stored entry; the SHA-256 of a ledger-written entry (Lua has no SHA-256) is computed here. */
const parseEntry = (v: string): DeadLetter => completeDeadLetter(JSON.parse(v) as DeadLetter);

/** The items grouped by subscriber, each with its index in `items`. */
function bySubscriber<T extends { readonly subscriber: string }>(items: readonly T[]): Map<string, { item: T; index: number }[]> {
  const groups = new Map<string, { item: T; index: number }[]>();
  items.forEach((item, index) => {
    const g = groups.get(item.subscriber);
    if (g) g.push({ item, index });
    else groups.set(item.subscriber, [{ item, index }]);
  });
  return groups;
}

export class RedisCircuitBreakerStore implements CircuitBreakerStore {
  readonly conn: RedisLedgerConnection;

  constructor(options: RedisLedgerOptions | RedisLedgerConnection = {}) {
    this.conn = options instanceof RedisLedgerConnection ? options : new RedisLedgerConnection(options);
  }

  async status(subscriber: string, topic: string): Promise<BreakerStatus> {
    const [s] = await this.query(subscriber, topic);
    return s ?? { subscriber, topic, state: 'closed', failures: 0 };
  }

  /** Every breaker of every known subscriber (one script call per subscriber). */
  async list(): Promise<BreakerStatus[]> {
    const subs = await this.conn.subscribers();
    return (await Promise.all(subs.map((sub) => this.query(sub, '')))).flat();
  }

  async reset(subscriber: string, topic: string): Promise<void> {
    const c = this.conn;
    await c.redis.del(c.key(ledgerKey('breaker', subscriber, topic)), c.key(ledgerKey('breakerFailures', subscriber, topic)));
  }

  private async query(subscriber: string, topic: string): Promise<BreakerStatus[]> {
    const res = (await this.conn.cmd.albergueLedgerBreakers(
      this.conn.routingKey(subscriber),
      this.conn.ns,
      subscriber,
      topic,
    )) as unknown[];
    const out: BreakerStatus[] = [];
    for (let i = 1; i + 4 < res.length; i += 5) {
      const base = { subscriber: str(res[i]), topic: str(res[i + 1]), state: str(res[i + 2]) as BreakerState, failures: num(res[i + 3]) };
      const until = str(res[i + 4]);
      out.push(until === '' ? base : { ...base, openUntil: num(until) });
    }
    return out;
  }
}
