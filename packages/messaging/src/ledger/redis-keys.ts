/**
 * The Redis keys of the delivery ledger, DLQ and circuit breakers, defined once: the adapter
 * (redis-ledger.ts) builds its keys with `ledgerKey`, the Lua scripts (redis-scripts.ts) get their
 * key functions generated from the same patterns, and the catalog (docs/CATALOG.md) lists them.
 * Placeholders: `<subscriber>`, `<topic>` (logical), `<event_id>`. Every key is prefixed by the
 * ledger's optional namespace. The full layout (TTLs, who writes and reads) is in README.md.
 *
 * Redis Cluster: every key of one subscriber carries the hash tag `{<subscriber>}` before any other
 * variable part, so all of them live in one slot and each Lua script (which serves one subscriber)
 * touches one slot. The one key without a tag, `mqtt:ledger:subscribers`, is written by separate,
 * idempotent commands and never from a script.
 */
export interface RedisKeySpec {
  /** `mqtt:processed:{<subscriber>}:<topic>`. */
  readonly pattern: string;
  /** Redis type (`ZSET`, `HASH`, `SET`, or `channel` for pub/sub). */
  readonly type: string;
  /** What it holds, one sentence. */
  readonly holds: string;
}

export const LEDGER_REDIS_KEYS = {
  processed: {
    pattern: 'mqtt:processed:{<subscriber>}:<topic>',
    type: 'ZSET',
    holds: 'event_ids the subscriber processed, scored by when they may be forgotten (dedup window)',
  },
  dlq: {
    pattern: 'mqtt:dlq:{<subscriber>}:<topic>',
    type: 'HASH',
    holds: "the subscriber's dead letters of the topic, `<subscriber>:<event_id>` → entry (envelope, attempts, every error)",
  },
  dlqOrder: {
    pattern: 'mqtt:dlq:{<subscriber>}:<topic>:order',
    type: 'ZSET',
    holds: "the subscriber's dead letters of the topic by time dead-lettered (paging)",
  },
  dlqTopics: { pattern: 'mqtt:dlq-topics:{<subscriber>}', type: 'SET', holds: 'topics in which the subscriber has dead letters' },
  breaker: {
    pattern: 'cb:{<subscriber>}:<topic>',
    type: 'HASH',
    holds: 'circuit breaker while open or half-open (state, until, probe); no key = closed',
  },
  breakerFailures: {
    pattern: 'cb:{<subscriber>}:<topic>:failures',
    type: 'ZSET',
    holds: 'messages that failed transiently within the breaker window, by time of failure',
  },
  subscribers: {
    pattern: 'mqtt:ledger:subscribers',
    type: 'SET',
    holds: 'every subscriber (consumer group) the ledger knows; written by its own command, never by a script',
  },
  topics: { pattern: 'mqtt:ledger:{<subscriber>}:topics', type: 'SET', holds: "the subscriber's topics" },
  policies: {
    pattern: 'mqtt:ledger:{<subscriber>}:policies',
    type: 'HASH',
    holds: 'topic → delivery policy (attempts, timeouts, backoff, breaker)',
  },
  ready: {
    pattern: 'mqtt:ledger:{<subscriber>}:<topic>:ready',
    type: 'ZSET',
    holds: 'pending event_ids by due time (new, backing off, lapsed)',
  },
  leased: {
    pattern: 'mqtt:ledger:{<subscriber>}:<topic>:leased',
    type: 'ZSET',
    holds: 'leased event_ids by lease expiry (visibility timeout)',
  },
  message: {
    pattern: 'mqtt:ledger:{<subscriber>}:<topic>:msg:<event_id>',
    type: 'HASH',
    holds: 'one pending message: body as received, attempts, errors, live lease',
  },
} as const satisfies Record<string, RedisKeySpec>;

export type LedgerKeyName = keyof typeof LEDGER_REDIS_KEYS;

const PLACEHOLDER = /<([a-z_]+)>/g;

/** The placeholders of a pattern, in order (`['subscriber', 'topic']`). */
export function keyPlaceholders(pattern: string): string[] {
  return [...pattern.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** A concrete key: the pattern's placeholders filled in order with `parts` (namespace not included). */
export function ledgerKey(name: LedgerKeyName, ...parts: string[]): string {
  const { pattern } = LEDGER_REDIS_KEYS[name];
  const wanted = keyPlaceholders(pattern);
  if (parts.length !== wanted.length) throw new Error(`key ${pattern} needs ${wanted.length} parts, got ${parts.length}`);
  let i = 0;
  return pattern.replace(PLACEHOLDER, () => parts[i++]!);
}

const LUA_ARG: Record<string, string> = { subscriber: 'sub', topic: 'topic', event_id: 'id' };

/**
 * The Lua expression of a key, prefixed by the namespace `P`: `mqtt:processed:{<subscriber>}:<topic>`
 * → `P .. 'mqtt:processed:{' .. sub .. '}:' .. topic`. Placeholders become the arguments `sub`,
 * `topic`, `id`.
 */
export function luaKeyExpression(pattern: string): string {
  const pieces: string[] = ['P'];
  let last = 0;
  for (const m of pattern.matchAll(PLACEHOLDER)) {
    const literal = pattern.slice(last, m.index);
    if (literal) pieces.push(`'${literal}'`);
    const arg = LUA_ARG[m[1]!];
    if (!arg) throw new Error(`unknown placeholder <${m[1]}> in ${pattern}`);
    pieces.push(arg);
    last = m.index + m[0].length;
  }
  if (last < pattern.length) pieces.push(`'${pattern.slice(last)}'`);
  return pieces.join(' .. ');
}

/** `local function <fn>(sub, topic) return P .. … end` for a key with placeholders, `local <fn> = P .. '…'` for a fixed one. */
export function luaKeyFunction(fn: string, name: LedgerKeyName): string {
  const { pattern } = LEDGER_REDIS_KEYS[name];
  const args = keyPlaceholders(pattern).map((p) => LUA_ARG[p]!);
  const expr = luaKeyExpression(pattern);
  return args.length === 0 ? `local ${fn} = ${expr}` : `local function ${fn}(${args.join(', ')}) return ${expr} end`;
}
