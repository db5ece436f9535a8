/**
 * The in-memory delivery ledger: the embedded default (`npm start` with no REDIS_URL). Same
 * semantics as the Redis ledger (one contract test suite runs on both), for one process: several
 * ledger instances built on the same MemoryLedgerStore share their state like instances sharing a
 * Redis. Nothing survives a restart; durability is the Redis adapter's job.
 */
import { randomBytes } from 'node:crypto';
import type {
  AckOutcome,
  AttemptError,
  BreakerStatus,
  CircuitBreakerStore,
  DeadLetter,
  DeadLetterInput,
  DeadLetterNotice,
  DeadLetterReason,
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
import { DEFAULT_MAX_DLQ_BODY_BYTES, DeadLetterEvents, boundedBody } from '../dlq/entries.js';
import { DEFAULT_POLICY, MAX_DELIVERY_QUERIES } from '../ports/ledger.js';
import { MinHeap } from './heap.js';
import { assertKeyPart, backoffDelayMs, iso, validatePolicy } from './policy.js';

export const VISIBILITY_TIMEOUT_ERROR = 'visibility timeout expired';

export interface MemoryLedgerOptions {
  /** Epoch milliseconds; Date.now by default (tests may drive a fake clock). */
  readonly clock?: () => number;
  /** [0, 1), for backoff jitter; Math.random by default. */
  readonly random?: () => number;
  /** Policy of a topic recorded before any `register` for it. Default DEFAULT_POLICY. */
  readonly defaultPolicy?: SubscriptionPolicy;
  /** Prefix of a raw body kept by `DeadLetterStore.add` (default 4 KiB). */
  readonly maxDlqBodyBytes?: number;
}

interface Lease {
  readonly token: string;
  readonly expiresAt: number;
}

interface Entry {
  readonly topic: string;
  readonly eventId: string;
  readonly body: string;
  readonly firstReceivedAt: number;
  attempts: number;
  errors: AttemptError[];
  firstFailureAt?: number;
  lease?: Lease | undefined;
  /** Bumped on every state change; heap items of an older generation are stale. */
  gen: number;
}

interface QueueItem {
  readonly key: number;
  readonly seq: number;
  readonly entry: Entry;
  readonly gen: number;
}

interface Breaker {
  open: boolean;
  openUntil: number;
  /**
   * Messages that failed transiently → time of their latest failure, oldest first (trimmed to the
   * rolling window). Counted per message: one message failing again and again is not an outage.
   */
  failures: Map<string, number>;
  probe?: { readonly eventId: string; readonly token: string } | undefined;
}

interface TopicState {
  policy: SubscriptionPolicy;
  readonly entries: Map<string, Entry>;
  /** Entries not leased, by due time. */
  readonly ready: MinHeap<QueueItem>;
  /** Leased entries, by lease expiry. */
  readonly leased: MinHeap<QueueItem>;
  /** event_id → expiry; insertion order ≈ expiry order, so expired ids are swept from the front. */
  readonly processed: Map<string, number>;
  readonly breaker: Breaker;
}

/** The shared state of memory ledgers, dead-letter stores and breaker stores. */
export class MemoryLedgerStore {
  readonly clock: () => number;
  readonly random: () => number;
  readonly defaultPolicy: SubscriptionPolicy;
  /** subscriber → topic → state */
  readonly subscribers = new Map<string, Map<string, TopicState>>();
  /** topic → `subscriber\0id` → entry */
  readonly deadLetters = new Map<string, Map<string, DeadLetter>>();
  /** Every dead letter written into this store (dlq_total counts them). */
  readonly deadLetterEvents = new DeadLetterEvents();
  readonly maxDlqBodyBytes: number;
  private seq = 0;
  private readonly tokenPrefix = randomBytes(6).toString('hex');

  constructor(options: MemoryLedgerOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.defaultPolicy = options.defaultPolicy ?? DEFAULT_POLICY;
    this.maxDlqBodyBytes = options.maxDlqBodyBytes ?? DEFAULT_MAX_DLQ_BODY_BYTES;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  nextToken(): string {
    return `${this.tokenPrefix}.${++this.seq}`;
  }

  topic(subscriber: string, topic: string, create: true): TopicState;
  topic(subscriber: string, topic: string, create?: false): TopicState | undefined;
  topic(subscriber: string, topic: string, create = false): TopicState | undefined {
    let topics = this.subscribers.get(subscriber);
    if (!topics) {
      if (!create) return undefined;
      topics = new Map();
      this.subscribers.set(subscriber, topics);
    }
    let t = topics.get(topic);
    if (!t && create) {
      t = {
        policy: this.defaultPolicy,
        entries: new Map(),
        ready: new MinHeap(),
        leased: new MinHeap(),
        processed: new Map(),
        breaker: { open: false, openUntil: 0, failures: new Map() },
      };
      topics.set(topic, t);
    }
    return t;
  }

  /** `fresh`: a message that just left the ledger (always a new dead letter); else an `add`, new only if unknown. */
  addDeadLetter(entry: DeadLetter, fresh = false): void {
    let m = this.deadLetters.get(entry.topic);
    if (!m) {
      m = new Map();
      this.deadLetters.set(entry.topic, m);
    }
    const field = `${entry.subscriber}\0${entry.id}`;
    const known = m.delete(field);
    m.set(field, entry);
    // A second `add` of the same entry (the same bytes redelivered) is not a second dead letter.
    if (fresh || !known)
      this.deadLetterEvents.emit({ subscriber: entry.subscriber, topic: entry.topic, id: entry.id, reason: entry.reason });
  }
}

function trimFailures(b: Breaker, now: number, windowMs: number): void {
  const from = now - windowMs;
  for (const [id, at] of b.failures) {
    if (at > from) break;
    b.failures.delete(id);
  }
}

/** Counts a transient failure of message `id` (its latest failure moves it to the end). */
function addFailure(b: Breaker, id: string, now: number): void {
  b.failures.delete(id);
  b.failures.set(id, now);
}

function breakerStatus(subscriber: string, topic: string, t: TopicState | undefined, now: number): BreakerStatus {
  if (!t) return { subscriber, topic, state: 'closed', failures: 0 };
  const b = t.breaker;
  trimFailures(b, now, t.policy.breaker.windowMs);
  if (!b.open) return { subscriber, topic, state: 'closed', failures: b.failures.size };
  return { subscriber, topic, state: now < b.openUntil ? 'open' : 'half-open', failures: b.failures.size, openUntil: b.openUntil };
}

export class MemoryDeliveryLedger implements DeliveryLedger {
  readonly store: MemoryLedgerStore;
  readonly deadLetters: MemoryDeadLetterStore;
  readonly breakers: MemoryCircuitBreakerStore;

  /** A ledger on its own store, or on `store` shared with other instances. */
  constructor(store: MemoryLedgerStore | MemoryLedgerOptions = {}) {
    this.store = store instanceof MemoryLedgerStore ? store : new MemoryLedgerStore(store);
    this.deadLetters = new MemoryDeadLetterStore(this.store);
    this.breakers = new MemoryCircuitBreakerStore(this.store);
  }

  register(subscriber: string, topic: string, policy: SubscriptionPolicy): Promise<void> {
    try {
      assertKeyPart('subscriber', subscriber);
      assertKeyPart('topic', topic);
      validatePolicy(subscriber, topic, policy);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.store.topic(subscriber, topic, true).policy = policy;
    return Promise.resolve();
  }

  record(subscriber: string, messages: readonly IncomingMessage[]): Promise<RecordOutcome[]> {
    try {
      assertKeyPart('subscriber', subscriber);
      for (const m of messages) assertKeyPart('topic', m.topic);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const now = this.store.clock();
    const out: RecordOutcome[] = [];
    for (const m of messages) {
      const t = this.store.topic(subscriber, m.topic, true);
      if (t.entries.has(m.eventId)) {
        out.push('duplicate');
        continue;
      }
      const until = t.processed.get(m.eventId);
      if (until !== undefined) {
        if (until > now) {
          out.push('duplicate');
          continue;
        }
        t.processed.delete(m.eventId);
      }
      const entry: Entry = { topic: m.topic, eventId: m.eventId, body: m.body, firstReceivedAt: now, attempts: 0, errors: [], gen: 0 };
      t.entries.set(m.eventId, entry);
      t.ready.push({ key: now, seq: this.store.nextSeq(), entry, gen: 0 });
      out.push('recorded');
    }
    return Promise.resolve(out);
  }

  lease(subscriber: string, max: number): Promise<Delivery[]> {
    const topics = this.store.subscribers.get(subscriber);
    if (!topics || max <= 0) return Promise.resolve([]);
    const now = this.store.clock();

    // 1. Leases that lapsed: the attempt is spent; the message is due again, or dead-lettered.
    for (const [topic, t] of topics) {
      for (let item = t.leased.peek(); item && item.key <= now; item = t.leased.peek()) {
        t.leased.pop();
        if (!this.isCurrent(t, item) || !item.entry.lease) continue;
        this.lapse(subscriber, topic, t, item.entry, now);
      }
    }

    // 2. Due messages of topics whose breaker lets them through, oldest first across topics.
    const limits = new Map<TopicState, { topic: string; left: number; probe: boolean }>();
    for (const [topic, t] of topics) {
      const b = t.breaker;
      if (!b.open) limits.set(t, { topic, left: max, probe: false });
      else if (now >= b.openUntil && !b.probe) limits.set(t, { topic, left: 1, probe: true });
    }
    const out: Delivery[] = [];
    while (out.length < max) {
      let best: TopicState | undefined;
      let head: QueueItem | undefined;
      for (const [t, l] of limits) {
        if (l.left <= 0) continue;
        const h = this.readyHead(t);
        if (!h || h.key > now) continue;
        if (!head || h.key < head.key || (h.key === head.key && h.seq < head.seq)) {
          head = h;
          best = t;
        }
      }
      if (!best || !head) break;
      const l = limits.get(best)!;
      l.left--;
      // A half-open probe tests the downstream: a message that already failed is a poor witness
      // (it may be poison), so the oldest never-attempted due message goes first when there is one.
      const chosen = l.probe ? this.probeCandidate(best, now) : (best.ready.pop(), head.entry);
      out.push(this.grant(subscriber, l.topic, best, chosen, now, l.probe));
    }
    return Promise.resolve(out);
  }

  ack(delivery: Delivery): Promise<AckOutcome> {
    return Promise.resolve(this.ackOne(delivery, this.store.clock()));
  }

  ackMany(deliveries: readonly Delivery[]): Promise<AckOutcome[]> {
    const now = this.store.clock();
    return Promise.resolve(deliveries.map((d) => this.ackOne(d, now)));
  }

  nack(delivery: Delivery, error: string, options: NackOptions = {}): Promise<NackOutcome> {
    const now = this.store.clock();
    const t = this.store.topic(delivery.subscriber, delivery.topic);
    const e = t && this.liveEntry(t, delivery, now);
    if (!t || !e) return Promise.resolve('stale');
    const token = e.lease!.token;
    e.lease = undefined;
    e.gen++;
    e.errors.push({ attempt: e.attempts, at: iso(now), message: error });
    e.firstFailureAt ??= now;

    const b = t.breaker;
    const bp = t.policy.breaker;
    if (options.permanent) {
      // Poison, not an outage: no breaker failure; a probe that was poison lets the next probe go.
      if (b.probe?.token === token) b.probe = undefined;
      this.deadLetter(delivery.subscriber, delivery.topic, t, e, 'permanent_error', now, options.code ?? 'permanent_error');
      return Promise.resolve('dead-lettered');
    }
    addFailure(b, e.eventId, now);
    trimFailures(b, now, bp.windowMs);
    if (b.probe?.token === token) {
      b.open = true;
      b.openUntil = now + bp.openMs;
      b.probe = undefined;
    } else if (!b.open && b.failures.size >= bp.failureThreshold) {
      b.open = true;
      b.openUntil = now + bp.openMs;
    }

    if (e.attempts >= t.policy.maxAttempts) {
      this.deadLetter(delivery.subscriber, delivery.topic, t, e, 'max_attempts', now);
      return Promise.resolve('dead-lettered');
    }
    const due = now + backoffDelayMs(t.policy.backoff, e.attempts, this.store.random());
    t.ready.push({ key: due, seq: this.store.nextSeq(), entry: e, gen: e.gen });
    return Promise.resolve('retry-scheduled');
  }

  isProcessed(subscriber: string, topic: string, eventId: string): Promise<boolean> {
    const until = this.store.topic(subscriber, topic)?.processed.get(eventId);
    return Promise.resolve(until !== undefined && until > this.store.clock());
  }

  depth(subscriber: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [topic, t] of this.store.subscribers.get(subscriber) ?? []) out[topic] = t.entries.size;
    return Promise.resolve(out);
  }

  deliveries(queries: readonly DeliveryQuery[]): Promise<DeliveryFact[]> {
    if (queries.length > MAX_DELIVERY_QUERIES)
      return Promise.reject(new Error(`at most ${MAX_DELIVERY_QUERIES} delivery queries per call (got ${queries.length})`));
    const now = this.store.clock();
    return Promise.resolve(
      queries.map((q) => {
        const base = { subscriber: q.subscriber, topic: q.topic, eventId: q.eventId };
        const t = this.store.topic(q.subscriber, q.topic);
        const dl = this.store.deadLetters.get(q.topic)?.get(`${q.subscriber}\0${q.eventId}`);
        const deadLetter = dl ? deadLetterSummary(dl) : undefined;
        const withDl = deadLetter ? { deadLetter } : {};
        const e = t?.entries.get(q.eventId);
        if (t && e) {
          const common = {
            ...base,
            attempts: e.attempts,
            maxAttempts: t.policy.maxAttempts,
            errors: e.errors.slice(),
            firstReceivedAt: e.firstReceivedAt,
            ...withDl,
          };
          // A lease that lapsed but was not swept yet is due again (as lease() will find it).
          if (e.lease && e.lease.expiresAt > now) return { ...common, state: 'leased', leaseExpiresAt: e.lease.expiresAt };
          return { ...common, state: 'pending', nextAttemptAt: e.lease ? e.lease.expiresAt : this.dueAt(t, e) };
        }
        const until = t?.processed.get(q.eventId);
        if (t && until !== undefined && until > now)
          return { ...base, state: 'processed', attempts: 0, errors: [], processedAt: until - t.policy.dedupWindowMs, ...withDl };
        if (dl) return { ...base, state: 'dead_lettered', attempts: dl.attempts, errors: dl.errors.slice(), ...withDl };
        return { ...base, state: 'unknown', attempts: 0, errors: [] };
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get deadLetterEvents(): DeadLetterEvents {
    return this.store.deadLetterEvents;
  }

  /** Every dead letter written through this ledger's store (also `deadLetters.onDeadLetter`). */
  onDeadLetter(listener: (notice: DeadLetterNotice) => void): () => void {
    return this.store.deadLetterEvents.on(listener);
  }

  private ackOne(d: Delivery, now: number): AckOutcome {
    const t = this.store.topic(d.subscriber, d.topic);
    const e = t && this.liveEntry(t, d, now);
    if (!t || !e) return 'stale';
    t.entries.delete(e.eventId);
    e.gen++;
    t.processed.delete(e.eventId);
    t.processed.set(e.eventId, now + t.policy.dedupWindowMs);
    for (const [id, until] of t.processed) {
      if (until > now) break;
      t.processed.delete(id);
    }
    const b = t.breaker;
    if (b.probe?.token === d.leaseToken) {
      b.open = false;
      b.openUntil = 0;
      b.failures.clear();
      b.probe = undefined;
    }
    return 'acked';
  }

  /** The entry `d` leases, if its lease is still the live one. */
  private liveEntry(t: TopicState, d: Delivery, now: number): Entry | undefined {
    const e = t.entries.get(d.eventId);
    if (!e?.lease || e.lease.token !== d.leaseToken || e.lease.expiresAt <= now) return undefined;
    return e;
  }

  /** When a waiting entry is due: its current ready-heap item's key (a scan; queries are operator-rate). */
  private dueAt(t: TopicState, e: Entry): number {
    let due: number | undefined;
    for (const item of t.ready.items()) if (item.entry === e && item.gen === e.gen) due = item.key;
    return due ?? e.firstReceivedAt;
  }

  private isCurrent(t: TopicState, item: QueueItem): boolean {
    return t.entries.get(item.entry.eventId) === item.entry && item.entry.gen === item.gen;
  }

  private readyHead(t: TopicState): QueueItem | undefined {
    for (let item = t.ready.peek(); item; item = t.ready.peek()) {
      if (this.isCurrent(t, item) && !item.entry.lease) return item;
      t.ready.pop();
    }
    return undefined;
  }

  /**
   * The probe of a half-open breaker: the oldest due message never attempted, else the oldest due
   * one. Removes it from the ready heap (scans at most 1,000 due items; the rest go back).
   */
  private probeCandidate(t: TopicState, now: number): Entry {
    const skipped: QueueItem[] = [];
    let chosen: Entry | undefined;
    for (let item = this.readyHead(t); item && item.key <= now && skipped.length < 1_000; item = this.readyHead(t)) {
      t.ready.pop();
      if (item.entry.attempts === 0) {
        chosen = item.entry;
        break;
      }
      skipped.push(item);
    }
    if (!chosen) chosen = skipped.shift()!.entry;
    for (const item of skipped) t.ready.push(item);
    return chosen;
  }

  private grant(subscriber: string, topic: string, t: TopicState, e: Entry, now: number, probe: boolean): Delivery {
    const token = this.store.nextToken();
    const expiresAt = now + t.policy.visibilityTimeoutMs;
    e.attempts++;
    e.gen++;
    e.lease = { token, expiresAt };
    t.leased.push({ key: expiresAt, seq: this.store.nextSeq(), entry: e, gen: e.gen });
    if (probe) t.breaker.probe = { eventId: e.eventId, token };
    return {
      subscriber,
      topic,
      eventId: e.eventId,
      body: e.body,
      attempt: e.attempts,
      maxAttempts: t.policy.maxAttempts,
      leaseToken: token,
      leaseExpiresAt: expiresAt,
      firstReceivedAt: e.firstReceivedAt,
      errors: e.errors.slice(),
    };
  }

  private lapse(subscriber: string, topic: string, t: TopicState, e: Entry, now: number): void {
    const lease = e.lease!;
    e.lease = undefined;
    e.gen++;
    e.errors.push({
      attempt: e.attempts,
      at: iso(lease.expiresAt),
      message: `${VISIBILITY_TIMEOUT_ERROR} (not acked within ${t.policy.visibilityTimeoutMs} ms)`,
    });
    e.firstFailureAt ??= lease.expiresAt;
    const b = t.breaker;
    if (b.probe?.token === lease.token) {
      b.open = true;
      b.openUntil = now + t.policy.breaker.openMs;
      b.probe = undefined;
    }
    if (e.attempts >= t.policy.maxAttempts) {
      this.deadLetter(subscriber, topic, t, e, 'visibility_timeout', now);
      return;
    }
    t.ready.push({ key: lease.expiresAt, seq: this.store.nextSeq(), entry: e, gen: e.gen });
  }

  private deadLetter(
    subscriber: string,
    topic: string,
    t: TopicState,
    e: Entry,
    reason: DeadLetterReason,
    now: number,
    code?: string,
  ): void {
    t.entries.delete(e.eventId);
    e.gen++;
    const last = e.errors[e.errors.length - 1];
    // A recorded envelope is kept whole (bounded by the envelope size limit): it can be replayed.
    this.store.addDeadLetter(
      {
        id: e.eventId,
        topic,
        subscriber,
        ...boundedBody(e.body, Number.MAX_SAFE_INTEGER),
        reason,
        ...(code !== undefined ? { code } : {}),
        attempts: e.attempts,
        errors: e.errors.slice(),
        firstFailureAt: iso(e.firstFailureAt ?? now),
        lastFailureAt: last?.at ?? iso(now),
        deadLetteredAt: iso(now),
      },
      true,
    );
  }
}

const deadLetterSummary = (dl: DeadLetter): NonNullable<DeliveryFact['deadLetter']> => ({
  id: dl.id,
  reason: dl.reason,
  ...(dl.code !== undefined ? { code: dl.code } : {}),
  attempts: dl.attempts,
  errors: dl.errors.slice(),
  firstFailureAt: dl.firstFailureAt,
  deadLetteredAt: dl.deadLetteredAt,
});

export class MemoryDeadLetterStore implements DeadLetterStore {
  constructor(readonly store: MemoryLedgerStore = new MemoryLedgerStore()) {}

  add(entry: DeadLetterInput): Promise<void> {
    try {
      assertKeyPart('subscriber', entry.subscriber);
      assertKeyPart('topic', entry.topic);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.store.addDeadLetter({ ...entry, ...boundedBody(entry.body, this.store.maxDlqBodyBytes), errors: entry.errors.slice() });
    return Promise.resolve();
  }

  get deadLetterEvents(): DeadLetterEvents {
    return this.store.deadLetterEvents;
  }

  onDeadLetter(listener: (notice: DeadLetterNotice) => void): () => void {
    return this.store.deadLetterEvents.on(listener);
  }

  topics(): Promise<{ topic: string; depth: number }[]> {
    const out: { topic: string; depth: number }[] = [];
    for (const [topic, m] of this.store.deadLetters) if (m.size > 0) out.push({ topic, depth: m.size });
    return Promise.resolve(out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)));
  }

  list(topic: string, options: { offset?: number; limit?: number } = {}): Promise<DeadLetter[]> {
    const offset = Math.max(0, options.offset ?? 0);
    const limit = Math.max(0, options.limit ?? 100);
    return Promise.resolve(this.sorted(topic).slice(offset, offset + limit));
  }

  get(topic: string, id: string, subscriber?: string): Promise<DeadLetter | undefined> {
    const m = this.store.deadLetters.get(topic);
    if (!m) return Promise.resolve(undefined);
    if (subscriber !== undefined) return Promise.resolve(m.get(`${subscriber}\0${id}`));
    return Promise.resolve(this.sorted(topic).find((e) => e.id === id));
  }

  remove(topic: string, ids?: readonly string[], subscriber?: string): Promise<number> {
    const m = this.store.deadLetters.get(topic);
    if (!m) return Promise.resolve(0);
    const wanted = ids && new Set(ids);
    let n = 0;
    for (const [field, e] of m) {
      if (wanted && !wanted.has(e.id)) continue;
      if (subscriber !== undefined && e.subscriber !== subscriber) continue;
      m.delete(field);
      n++;
    }
    if (m.size === 0) this.store.deadLetters.delete(topic);
    return Promise.resolve(n);
  }

  private sorted(topic: string): DeadLetter[] {
    const all = [...(this.store.deadLetters.get(topic)?.values() ?? [])];
    return all.sort((a, b) => Date.parse(a.deadLetteredAt) - Date.parse(b.deadLetteredAt));
  }
}

export class MemoryCircuitBreakerStore implements CircuitBreakerStore {
  constructor(readonly store: MemoryLedgerStore = new MemoryLedgerStore()) {}

  status(subscriber: string, topic: string): Promise<BreakerStatus> {
    return Promise.resolve(breakerStatus(subscriber, topic, this.store.topic(subscriber, topic), this.store.clock()));
  }

  list(): Promise<BreakerStatus[]> {
    const now = this.store.clock();
    const out: BreakerStatus[] = [];
    for (const [subscriber, topics] of this.store.subscribers) {
      for (const [topic, t] of topics) out.push(breakerStatus(subscriber, topic, t, now));
    }
    return Promise.resolve(out);
  }

  reset(subscriber: string, topic: string): Promise<void> {
    const t = this.store.topic(subscriber, topic);
    if (t) {
      t.breaker.open = false;
      t.breaker.openUntil = 0;
      t.breaker.failures.clear();
      t.breaker.probe = undefined;
    }
    return Promise.resolve();
  }
}
