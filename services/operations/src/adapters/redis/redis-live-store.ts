// The live store in Redis. Every projection lives in a generation: `<ns><projection>:gen` names the
// current one and every other key of the projection is `<ns><projection>:<gen>:…` (see
// docs/projections.md for the whole layout). Rows are copies of Postgres rows with their version; a
// Lua script writes a row only when its version is higher than the one held, so late or repeated
// copies change nothing. A resync fills a new generation (`…:next`, which pushes also reach) and
// swaps `…:gen` to it in one script. Reads are Lua scripts too: one generation, one round trip.
// Key names are built inside the scripts: one Redis (standalone or Sentinel), not Cluster, like the
// delivery ledger.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Doc, Projection, ProjectionState } from '../../domain/projection.js';
import type { LiveStore, RowChanges, Snapshot } from '../../application/ports.js';

const PUSH = `
local base = ARGV[1]
local targets = {}
if ARGV[2] ~= '' then
  targets[1] = ARGV[2]
else
  local g = redis.call('GET', base .. 'gen')
  local n = redis.call('GET', base .. 'next')
  if g then targets[1] = g end
  if n and n ~= g then targets[#targets + 1] = n end
  if not g then
    -- No generation yet: a first resync may be filling one (the copy goes there), but the caller
    -- is told to resync anyway (the generation does not exist for readers yet).
    for _, gen in ipairs(targets) do g = gen end
    if #targets == 0 then return 0 end
  end
end
local p = cjson.decode(ARGV[3])
for _, gen in ipairs(targets) do
  local k = base .. gen .. ':'
  for _, e in ipairs(p.e) do
    local v = redis.call('HGET', k .. 'v', 'e|' .. e[1])
    if (not v) or tonumber(v) < tonumber(e[3]) then
      redis.call('HSET', k .. 'e', e[1], e[2])
      redis.call('HSET', k .. 'v', 'e|' .. e[1], e[3])
      for _, ix in ipairs(p.i) do redis.call('ZREM', k .. 'i:' .. ix, e[1]) end
      for _, m in ipairs(e[4]) do redis.call('ZADD', k .. 'i:' .. m[1], m[2], e[1]) end
    end
  end
  for _, c in ipairs(p.c) do
    local vf = 'c|' .. c[1] .. '|' .. c[2]
    local v = redis.call('HGET', k .. 'v', vf)
    if (not v) or tonumber(v) < tonumber(c[4]) then
      redis.call('HSET', k .. 'c:' .. c[1], c[2], c[3])
      redis.call('HSET', k .. 'v', vf, c[4])
      redis.call('SADD', k .. 'ck', c[1])
    end
  end
end
if redis.call('GET', base .. 'gen') then return 1 end
return 0
`;

const FLIP = `
if redis.call('GET', ARGV[1] .. 'next') ~= ARGV[2] then return false end
local old = redis.call('GET', ARGV[1] .. 'gen')
redis.call('SET', ARGV[1] .. 'gen', ARGV[2])
redis.call('DEL', ARGV[1] .. 'next')
return old or ''
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const READ_ENTITIES = `
local g = redis.call('GET', ARGV[1] .. 'gen')
if not g then return {} end
return redis.call('HMGET', ARGV[1] .. g .. ':e', unpack(ARGV, 2))
`;

const READ_COUNTERS = `
local g = redis.call('GET', ARGV[1] .. 'gen')
if not g then return {} end
return redis.call('HGETALL', ARGV[1] .. g .. ':c:' .. ARGV[2])
`;

const READ_COUNTER_KEYS = `
local g = redis.call('GET', ARGV[1] .. 'gen')
if not g then return {} end
return redis.call('SMEMBERS', ARGV[1] .. g .. ':ck')
`;

const READ_INDEX = `
local g = redis.call('GET', ARGV[1] .. 'gen')
if not g then return {{}, 0} end
local k = ARGV[1] .. g .. ':i:' .. ARGV[2]
return {redis.call('ZRANGE', k, 0, tonumber(ARGV[3]) - 1, 'WITHSCORES'), redis.call('ZCARD', k)}
`;

const DUMP = `
local g = redis.call('GET', ARGV[1] .. 'gen')
if not g then return {{}, {}} end
local k = ARGV[1] .. g .. ':'
local counters = {}
for _, key in ipairs(redis.call('SMEMBERS', k .. 'ck')) do
  counters[#counters + 1] = key
  counters[#counters + 1] = redis.call('HGETALL', k .. 'c:' .. key)
end
return {redis.call('HGETALL', k .. 'e'), counters}
`;

export interface RedisLiveStoreOptions {
  readonly url: string;
  /** Prefix of every key (default `ops:`); tests use their own. */
  readonly namespace?: string;
  /** How long a resync may hold the lock (default 120 s). */
  readonly resyncLockMs?: number;
  /** A command not answered by then fails (default 5 s). */
  readonly commandTimeoutMs?: number;
  /** Rows per push script during a resync (default 500). */
  readonly chunk?: number;
}

type Pairs = string[];

const pairsToMap = (pairs: Pairs): Map<string, string> => {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < pairs.length; i += 2) m.set(pairs[i]!, pairs[i + 1]!);
  return m;
};

export class RedisLiveStore implements LiveStore {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  private readonly ns: string;

  constructor(private readonly o: RedisLiveStoreOptions) {
    this.ns = o.namespace ?? 'ops:';
    // Fail fast while Redis is away (one retry, a command timeout): Postgres stays right, and the
    // sync job resyncs the projection once Redis is back.
    // No offline queue: a command sent while Redis is away must fail, not wait and run later (a
    // resync lock taken by a call that already gave up would block resyncs after the restart).
    this.redis = new Redis(o.url, { maxRetriesPerRequest: 1, commandTimeout: o.commandTimeoutMs ?? 5_000, enableOfflineQueue: false });
    this.redis.on('error', () => {
      // Reported by the failing calls (push/resync/reads); ioredis reconnects by itself.
    });
    this.firstReady = new Promise<void>((resolve) => this.redis.once('ready', () => resolve()));
  }

  private readonly firstReady: Promise<void>;

  /** Before the first connection, waits for it (up to the command timeout); afterwards commands fail fast while Redis is away. */
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.firstReady,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.o.commandTimeoutMs ?? 5_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private base(projection: string): string {
    return `${this.ns}${projection}:`;
  }

  async push(p: Projection, changes: RowChanges): Promise<boolean> {
    await this.connected();
    return (await this.pushTo(p, changes, '')) === 1;
  }

  private async pushTo(p: Projection, changes: RowChanges, gen: string): Promise<number> {
    const payload = {
      i: p.indexes,
      e: changes.entities.map((e) => [e.key, JSON.stringify(e.doc), String(e.version), e.indexes.map((m) => [m.index, String(m.score)])]),
      c: changes.counters.map((c) => [c.key, c.field, String(c.value), String(c.version)]),
    };
    // cjson decodes [] as an empty table either way; an entity without index entries keeps an array.
    return (await this.redis.eval(PUSH, 0, this.base(p.name), gen, JSON.stringify(payload))) as number;
  }

  async resync(p: Projection, load: () => Promise<Snapshot>): Promise<boolean> {
    await this.connected();
    const base = this.base(p.name);
    const token = randomUUID();
    const locked = await this.redis.set(`${base}resync`, token, 'PX', this.o.resyncLockMs ?? 120_000, 'NX');
    if (locked !== 'OK') return false;
    try {
      const gen = randomUUID();
      // Pushes from now on also reach the new generation; the snapshot is read after this.
      await this.redis.set(`${base}next`, gen);
      const rows = await load();
      const chunk = this.o.chunk ?? 500;
      for (let i = 0; i < rows.entities.length; i += chunk)
        await this.pushTo(p, { entities: rows.entities.slice(i, i + chunk), counters: [] }, gen);
      for (let i = 0; i < rows.counters.length; i += chunk)
        await this.pushTo(p, { entities: [], counters: rows.counters.slice(i, i + chunk) }, gen);
      // The generation's marker holds the Postgres epoch it was copied from; an empty projection gets one too.
      await this.redis.set(`${base}${gen}:ready`, String(rows.epoch));
      const old = (await this.redis.eval(FLIP, 0, base, gen)) as string | null;
      if (old === null) {
        await this.dropGeneration(base, gen);
        return false;
      }
      if (old !== '') await this.dropGeneration(base, old);
      return true;
    } finally {
      await this.redis.eval(RELEASE, 1, `${base}resync`, token);
    }
  }

  private async dropGeneration(base: string, gen: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${base}${gen}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== '0');
  }

  async epoch(p: Projection): Promise<number | undefined> {
    await this.connected();
    const gen = await this.redis.get(`${this.base(p.name)}gen`);
    if (gen === null) return undefined;
    // A Redis that lost keys (a restart without AOF) has no marker under the generation either.
    const marker = await this.redis.get(`${this.base(p.name)}${gen}:ready`);
    return marker === null ? undefined : Number(marker);
  }

  async entities(projection: string, keys: readonly string[]): Promise<(Doc | undefined)[]> {
    await this.connected();
    if (keys.length === 0) return [];
    const raw = (await this.redis.eval(READ_ENTITIES, 0, this.base(projection), ...keys)) as (string | null)[];
    return keys.map((_, i) => {
      const s = raw[i];
      return s === null || s === undefined ? undefined : (JSON.parse(s) as Doc);
    });
  }

  async counters(projection: string, key: string): Promise<Record<string, number>> {
    await this.connected();
    const raw = (await this.redis.eval(READ_COUNTERS, 0, this.base(projection), key)) as Pairs;
    const out: Record<string, number> = {};
    for (const [f, v] of pairsToMap(raw)) if (Number(v) !== 0) out[f] = Number(v);
    return out;
  }

  async counterKeys(projection: string): Promise<string[]> {
    await this.connected();
    return ((await this.redis.eval(READ_COUNTER_KEYS, 0, this.base(projection))) as string[]).sort();
  }

  async indexRange(
    projection: string,
    index: string,
    limit: number,
  ): Promise<{ members: { key: string; score: number }[]; total: number }> {
    await this.connected();
    const [range, total] = (await this.redis.eval(READ_INDEX, 0, this.base(projection), index, String(limit))) as [Pairs, number];
    return { members: [...pairsToMap(range)].map(([key, score]) => ({ key, score: Number(score) })), total };
  }

  async dump(projection: string): Promise<ProjectionState> {
    await this.connected();
    const [e, c] = (await this.redis.eval(DUMP, 0, this.base(projection))) as [Pairs, (string | Pairs)[]];
    const counters = new Map<string, Map<string, number>>();
    for (let i = 0; i + 1 < c.length; i += 2) {
      const fields = new Map([...pairsToMap(c[i + 1] as Pairs)].map(([f, v]) => [f, Number(v)] as const).filter(([, v]) => v !== 0));
      if (fields.size > 0) counters.set(c[i] as string, fields);
    }
    return { entities: new Map([...pairsToMap(e)].map(([k, s]) => [k, JSON.parse(s) as Doc])), counters };
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
