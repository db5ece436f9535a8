/**
 * The Redis delivery ledger, dead-letter store and circuit-breaker store (ARCHITECTURE §3): the
 * state every instance of a subscriber shares. Every ledger operation is one Lua script, atomic on
 * the server and timed by the server clock, and record / lease / ackMany take a whole batch in one
 * round trip. Keys: redis-keys.ts (`LEDGER_REDIS_KEYS`); layout: packages/messaging/README.md.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
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
import { ACK, BREAKERS, DELIVERIES, DEPTH, DLQ_REMOVE, IS_PROCESSED, LEASE, NACK, RECORD } from './redis-scripts.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisLedgerOptions {
  /** A connection to share (not closed by `close`). Without it one is opened to `url`. */
  readonly redis?: Redis;
  /** Default: REDIS_URL, else redis://127.0.0.1:6379. */
  readonly url?: string;
  /** Prefix of every key (e.g. `test_1a2b:`), to isolate tests or tenants. Default none. */
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

/** The connection and scripts shared by the three Redis stores. */
export class RedisLedgerConnection {
  readonly redis: Redis;
  readonly ns: string;
  readonly defaultPolicyJson: string;
  readonly maxDlqBodyBytes: number;
  /** Dead letters written through this connection (by any of the three stores): dlq_total counts them. */
  readonly deadLetterEvents = new DeadLetterEvents();
  private readonly owned: boolean;

  constructor(options: RedisLedgerOptions = {}) {
    this.owned = options.redis === undefined;
    this.redis = options.redis ?? new Redis(options.url ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL, { maxRetriesPerRequest: 3 });
    this.ns = options.namespace ?? '';
    this.defaultPolicyJson = JSON.stringify(options.defaultPolicy ?? DEFAULT_POLICY);
    this.maxDlqBodyBytes = options.maxDlqBodyBytes ?? DEFAULT_MAX_DLQ_BODY_BYTES;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in this.redis)) this.redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
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
    await c.redis
      .multi()
      .hset(c.key(ledgerKey('policies', subscriber)), topic, JSON.stringify(policy))
      .sadd(c.key(ledgerKey('topics', subscriber)), topic)
      .sadd(c.key(ledgerKey('subscribers')), subscriber)
      .exec();
  }

  async record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
    if (messages.length === 0) return [];
    assertKeyPart('subscriber', subscriber);
    const args: (string | Buffer)[] = [this.conn.ns, subscriber, this.conn.defaultPolicyJson, String(messages.length)];
    for (const m of messages) {
      assertKeyPart('topic', m.topic);
      // Bytes as received go to the socket as they are (no second UTF-8 encoding of every body).
      args.push(m.topic, m.eventId, m.bytes ? asBuffer(m.bytes) : m.body);
    }
    const res = (await this.conn.cmd.albergueLedgerRecord(...args)) as number[];
    return res.map((r) => (r === 1 ? 'recorded' : 'duplicate'));
  }

  async lease(subscriber: string, max: number): Promise<Delivery[]> {
    if (max <= 0) return [];
    const tokenPrefix = `${randomBytes(8).toString('hex')}.`;
    const res = (await this.conn.cmd.albergueLedgerLease(this.conn.ns, subscriber, Math.floor(max), tokenPrefix)) as unknown[];
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
    const args: string[] = [this.conn.ns, String(deliveries.length)];
    for (const d of deliveries) args.push(d.subscriber, d.topic, d.eventId, d.leaseToken);
    const res = (await this.conn.cmd.albergueLedgerAck(...args)) as number[];
    return res.map((r) => (r === 1 ? 'acked' : 'stale'));
  }

  async nack(delivery: Delivery, error: string, options: NackOptions = {}): Promise<NackOutcome> {
    const r = str(
      await this.conn.cmd.albergueLedgerNack(
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
    return num(await this.conn.cmd.albergueLedgerIsProcessed(this.conn.ns, subscriber, topic, eventId)) === 1;
  }

  async depth(subscriber: string): Promise<Record<string, number>> {
    const res = (await this.conn.cmd.albergueLedgerDepth(this.conn.ns, subscriber)) as unknown[];
    const out: Record<string, number> = {};
    for (let i = 0; i + 1 < res.length; i += 2) out[str(res[i])] = num(res[i + 1]);
    return out;
  }

  async deliveries(queries: readonly DeliveryQuery[]): Promise<DeliveryFact[]> {
    if (queries.length > MAX_DELIVERY_QUERIES)
      throw new Error(`at most ${MAX_DELIVERY_QUERIES} delivery queries per call (got ${queries.length})`);
    if (queries.length === 0) return [];
    const args: string[] = [this.conn.ns, String(queries.length)];
    for (const q of queries) {
      assertKeyPart('subscriber', q.subscriber);
      assertKeyPart('topic', q.topic);
      args.push(q.subscriber, q.topic, q.eventId);
    }
    const res = (await this.conn.cmd.albergueLedgerDeliveries(...args)) as unknown[];
    const now = num(res[0]);
    return queries.map((q, i): DeliveryFact => {
      const r = res.slice(1 + i * 10, 11 + i * 10).map(str);
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
    const res = await c.redis
      .multi()
      .hset(c.key(ledgerKey('dlq', entry.topic)), field, JSON.stringify(entry))
      .zadd(c.key(ledgerKey('dlqOrder', entry.topic)), Number.isNaN(at) ? Date.now() : at, field)
      .sadd(c.key(ledgerKey('dlqTopics')), entry.topic)
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

  async topics(): Promise<{ topic: string; depth: number }[]> {
    const c = this.conn;
    const topics = (await c.redis.smembers(c.key(ledgerKey('dlqTopics')))).sort();
    if (topics.length === 0) return [];
    const p = c.redis.pipeline();
    for (const t of topics) p.hlen(c.key(ledgerKey('dlq', t)));
    const res = (await p.exec()) ?? [];
    const out: { topic: string; depth: number }[] = [];
    topics.forEach((topic, i) => {
      const [err, n] = res[i] ?? [null, 0];
      if (err) throw err;
      if (num(n) > 0) out.push({ topic, depth: num(n) });
    });
    return out;
  }

  async list(topic: string, options: { offset?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    const offset = Math.max(0, Math.floor(options.offset ?? 0));
    const limit = Math.max(0, Math.floor(options.limit ?? 100));
    if (limit === 0) return [];
    const c = this.conn;
    const fields = await c.redis.zrange(c.key(ledgerKey('dlqOrder', topic)), offset, offset + limit - 1);
    if (fields.length === 0) return [];
    const values = await c.redis.hmget(c.key(ledgerKey('dlq', topic)), ...fields);
    return values.filter((v): v is string => v !== null).map(parseEntry);
  }

  async get(topic: string, id: string, subscriber?: string): Promise<DeadLetter | undefined> {
    const c = this.conn;
    const hk = c.key(ledgerKey('dlq', topic));
    if (subscriber !== undefined) {
      const v = await c.redis.hget(hk, `${subscriber}:${id}`);
      return v === null ? undefined : parseEntry(v);
    }
    const found: DeadLetter[] = [];
    let cursor = '0';
    do {
      const [next, kv] = await c.redis.hscan(hk, cursor, 'MATCH', `*:${globEscape(id)}`, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < kv.length; i += 2) {
        const e = parseEntry(kv[i]!);
        if (e.id === id) found.push(e);
      }
    } while (cursor !== '0');
    found.sort((a, b) => Date.parse(a.deadLetteredAt) - Date.parse(b.deadLetteredAt));
    return found[0];
  }

  async remove(topic: string, ids?: readonly string[], subscriber?: string): Promise<number> {
    if (ids && ids.length === 0) return 0;
    const args = [this.conn.ns, topic, subscriber ?? '', ids ? String(ids.length) : '-1', ...(ids ?? [])];
    return num(await this.conn.cmd.albergueLedgerDlqRemove(...args));
  }
}

/** A stored entry; the SHA-256 of a ledger-written entry (Lua has no SHA-256) is computed here. */
const parseEntry = (v: string): DeadLetter => completeDeadLetter(JSON.parse(v) as DeadLetter);

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);
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

  list(): Promise<BreakerStatus[]> {
    return this.query('', '');
  }

  async reset(subscriber: string, topic: string): Promise<void> {
    const c = this.conn;
    await c.redis.del(c.key(ledgerKey('breaker', subscriber, topic)), c.key(ledgerKey('breakerFailures', subscriber, topic)));
  }

  private async query(subscriber: string, topic: string): Promise<BreakerStatus[]> {
    const res = (await this.conn.cmd.albergueLedgerBreakers(this.conn.ns, subscriber, topic)) as unknown[];
    const out: BreakerStatus[] = [];
    for (let i = 1; i + 4 < res.length; i += 5) {
      const base = { subscriber: str(res[i]), topic: str(res[i + 1]), state: str(res[i + 2]) as BreakerState, failures: num(res[i + 3]) };
      const until = str(res[i + 4]);
      out.push(until === '' ? base : { ...base, openUntil: num(until) });
    }
    return out;
  }
}
