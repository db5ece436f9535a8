/**
 * Lua scripts of the Redis ledger. Each runs atomically on the server, uses the server clock (TIME)
 * so every instance agrees on "now", and handles a whole batch in one round trip.
 *
 * Keys are built inside the scripts from the namespace (ARGV[1]), subscriber and topic. Every script
 * serves one subscriber and touches only keys tagged `{<subscriber>}`, so on Redis Cluster it runs in
 * that subscriber's slot; KEYS[1] (a key of the same slot, see `routingKey` in redis-ledger.ts) routes
 * it there. The global registry `mqtt:ledger:subscribers` is never touched from a script.
 * The key functions are generated from `LEDGER_REDIS_KEYS` (redis-keys.ts); the layout is documented
 * in packages/messaging/README.md.
 */
import { DEFAULT_POLICY } from '../ports/ledger.js';
import { luaKeyFunction } from './redis-keys.js';

const lua = String.raw;

/** Shared helpers of every script (exported for tests). */
export const PRELUDE = lua`
local P = ARGV[1]
local DEFAULT_POLICY = ${JSON.stringify(JSON.stringify(DEFAULT_POLICY))}
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Epoch ms to ISO-8601 UTC with milliseconds (days-from-civil, proleptic Gregorian).
local function iso(ms)
  local s = math.floor(ms / 1000)
  local msr = ms - s * 1000
  local days = math.floor(s / 86400)
  local secs = s - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(secs / 3600), math.floor((secs % 3600) / 60), secs % 60, msr)
end
${luaKeyFunction('k_dlq_topics', 'dlqTopics')}
${luaKeyFunction('k_topics', 'topics')}
${luaKeyFunction('k_policies', 'policies')}
${luaKeyFunction('k_ready', 'ready')}
${luaKeyFunction('k_leased', 'leased')}
${luaKeyFunction('k_msg', 'message')}
${luaKeyFunction('k_processed', 'processed')}
${luaKeyFunction('k_cb', 'breaker')}
${luaKeyFunction('k_cbf', 'breakerFailures')}
${luaKeyFunction('k_dlq', 'dlq')}
${luaKeyFunction('k_dlq_order', 'dlqOrder')}

-- Batched commands: one redis.call per chunk of members instead of one per message (a redis.call
-- from Lua costs about as much as the work it does). unpack() is bounded by Lua's C stack (8,000).
local CHUNK = 1000
local function chunked(cmd, key, args, step)
  local i, n = 1, #args
  while i <= n do
    local last = math.min(n, i + CHUNK * step - 1)
    redis.call(cmd, key, unpack(args, i, last))
    i = last + 1
  end
end
-- ZMSCORE (Redis 6.2+) of many members: their scores in input order, false where absent.
local function zmscore(key, members)
  local res, i, n = {}, 1, #members
  while i <= n do
    local last = math.min(n, i + CHUNK - 1)
    local r = redis.call('ZMSCORE', key, unpack(members, i, last))
    for j = 1, last - i + 1 do res[i + j - 1] = r[j] end
    i = last + 1
  end
  return res
end

local policy_cache = {}
local function policy(sub, topic)
  local key = sub .. '\0' .. topic
  local p = policy_cache[key]
  if not p then
    p = cjson.decode(redis.call('HGET', k_policies(sub), topic) or DEFAULT_POLICY)
    policy_cache[key] = p
  end
  return p
end

-- Appends one error to the JSON array text of an entry's errors.
local function append_error(errs, attempt, at, message)
  local e = '{"attempt":' .. attempt .. ',"at":"' .. iso(at) .. '","message":' .. cjson.encode(message) .. '}'
  if not errs or errs == '' then return '[' .. e .. ']' end
  return string.sub(errs, 1, -2) .. ',' .. e .. ']'
end

-- Moves a message from the ledger to mqtt:dlq:{<subscriber>}:<topic>. The envelope is kept whole (it was recorded,
-- so it is within the envelope size limit, and a replay needs it); its SHA-256 is added when read.
local function dead_letter(sub, topic, id, reason, now, body, attempts, errs, first_failure, last_failure, code)
  local entry = '{"id":' .. cjson.encode(id) .. ',"topic":' .. cjson.encode(topic) .. ',"subscriber":' .. cjson.encode(sub) ..
    ',"body":' .. cjson.encode(body) .. ',"bodyBytes":' .. #body .. ',"bodyTruncated":false,"reason":"' .. reason .. '"' ..
    (code and (',"code":' .. cjson.encode(code)) or '') .. ',"attempts":' .. attempts .. ',"errors":' .. errs ..
    ',"firstFailureAt":"' .. iso(first_failure) .. '","lastFailureAt":"' .. iso(last_failure) ..
    '","deadLetteredAt":"' .. iso(now) .. '"}'
  local field = sub .. ':' .. id
  redis.call('HSET', k_dlq(sub, topic), field, entry)
  redis.call('ZADD', k_dlq_order(sub, topic), now, field)
  redis.call('SADD', k_dlq_topics(sub), topic)
  redis.call('DEL', k_msg(sub, topic, id))
end

local function open_breaker(sub, topic, pol, now)
  redis.call('HSET', k_cb(sub, topic), 'state', 'open', 'until', now + pol.breaker.openMs)
  redis.call('HDEL', k_cb(sub, topic), 'probe', 'probe_id')
end

-- Counts a transient failure of message member (its event_id: one message failing again and again
-- counts once) in the rolling window; opens the breaker at the threshold, re-opens it when the
-- failure is its half-open probe.
local function breaker_failure(sub, topic, pol, now, member, token)
  local cf = k_cbf(sub, topic)
  redis.call('ZADD', cf, now, member)
  redis.call('ZREMRANGEBYSCORE', cf, '-inf', now - pol.breaker.windowMs)
  redis.call('PEXPIRE', cf, pol.breaker.windowMs)
  local st = redis.call('HMGET', k_cb(sub, topic), 'state', 'probe')
  if st[2] and st[2] == token then
    open_breaker(sub, topic, pol, now)
  elseif st[1] ~= 'open' and redis.call('ZCARD', cf) >= pol.breaker.failureThreshold then
    open_breaker(sub, topic, pol, now)
  end
end
`;

/**
 * ARGV: ns, subscriber, defaultPolicyJson, n, then topic, eventId, body × n → 1 recorded / 0 duplicate each.
 * Per topic of the batch: one ZMSCORE for the dedup check and one ZADD to the ready set; per
 * message only EXISTS and HSET.
 */
export const RECORD =
  PRELUDE +
  lua`
local sub = ARGV[2]
local default_json = ARGV[3]
local n = tonumber(ARGV[4])
local now = now_ms()
local groups, order = {}, {}
for i = 0, n - 1 do
  local topic = ARGV[5 + i * 3]
  local g = groups[topic]
  if not g then
    g = {}
    groups[topic] = g
    order[#order + 1] = topic
  end
  g[#g + 1] = i
end
local out = {}
for _, topic in ipairs(order) do
  redis.call('SADD', k_topics(sub), topic)
  redis.call('HSETNX', k_policies(sub), topic, default_json)
  local g = groups[topic]
  local ids = {}
  for j, i in ipairs(g) do ids[j] = ARGV[6 + i * 3] end
  local until_ms = zmscore(k_processed(sub, topic), ids)
  local ready = {}
  for j, i in ipairs(g) do
    local id = ids[j]
    local result = 0
    if not until_ms[j] or tonumber(until_ms[j]) <= now then
      local mk = k_msg(sub, topic, id)
      -- Pending already (also: twice in this batch, the first one was just written).
      if redis.call('EXISTS', mk) == 0 then
        redis.call('HSET', mk, 'body', ARGV[7 + i * 3], 'att', 0, 'first', now, 'errs', '')
        ready[#ready + 1] = now
        ready[#ready + 1] = id
        result = 1
      end
    end
    out[i + 1] = result
  end
  chunked('ZADD', k_ready(sub, topic), ready, 2)
end
return out
`;

/**
 * ARGV: ns, subscriber, max, tokenPrefix → { now, n, then n × (topic, eventId) dead-lettered by a
 * lapsed last lease, then per delivery: topic, eventId, body, attempt, maxAttempts, token,
 * leaseExpiresAt, firstReceivedAt, errorsJson }.
 */
export const LEASE =
  PRELUDE +
  lua`
local sub = ARGV[2]
local max = tonumber(ARGV[3])
local tokp = ARGV[4]
local now = now_ms()
local topics = redis.call('SMEMBERS', k_topics(sub))
local dead = {}

-- 1. Lapsed leases: the attempt is spent; due again at once, or dead-lettered.
for _, topic in ipairs(topics) do
  local lk = k_leased(sub, topic)
  local expired = redis.call('ZRANGEBYSCORE', lk, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
  if #expired > 0 then
    local pol = policy(sub, topic)
    for j = 1, #expired, 2 do
      local id = expired[j]
      local exp = tonumber(expired[j + 1])
      local mk = k_msg(sub, topic, id)
      redis.call('ZREM', lk, id)
      local h = redis.call('HMGET', mk, 'att', 'tok', 'errs', 'ff', 'body')
      if h[1] then
        local att = tonumber(h[1])
        local errs = append_error(h[3], att, exp, 'visibility timeout expired (not acked within ' .. pol.visibilityTimeoutMs .. ' ms)')
        local ff = tonumber(h[4]) or exp
        local probe = redis.call('HGET', k_cb(sub, topic), 'probe')
        if probe and probe == h[2] then open_breaker(sub, topic, pol, now) end
        if att >= pol.maxAttempts then
          dead_letter(sub, topic, id, 'visibility_timeout', now, h[5], att, errs, ff, exp)
          dead[#dead + 1] = topic
          dead[#dead + 1] = id
        else
          redis.call('HSET', mk, 'errs', errs, 'ff', ff)
          redis.call('HDEL', mk, 'tok', 'exp')
          redis.call('ZADD', k_ready(sub, topic), exp, id)
        end
      end
    end
  end
end

-- 2. Due messages of topics whose breaker lets them through, oldest first across topics.
local cands = {}
for _, topic in ipairs(topics) do
  local cb = redis.call('HMGET', k_cb(sub, topic), 'state', 'until', 'probe')
  local limit, probe = max, false
  if cb[1] == 'open' then
    if now < tonumber(cb[2]) or cb[3] then limit = 0 else limit, probe = 1, true end
  end
  if probe then
    -- The probe tests the downstream: the oldest due message never attempted goes first (one that
    -- already failed may be poison); only when every due message failed before is one of them used.
    local ids = redis.call('ZRANGEBYSCORE', k_ready(sub, topic), '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)
    local pick = nil
    for j = 1, #ids, 2 do
      local att = tonumber(redis.call('HGET', k_msg(sub, topic, ids[j]), 'att') or '0')
      if att == 0 then pick = j break end
    end
    if not pick and #ids > 0 then pick = 1 end
    if pick then cands[#cands + 1] = { topic, ids[pick], tonumber(ids[pick + 1]), true } end
  elseif limit > 0 then
    local ids = redis.call('ZRANGEBYSCORE', k_ready(sub, topic), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
    for j = 1, #ids, 2 do
      cands[#cands + 1] = { topic, ids[j], tonumber(ids[j + 1]), probe }
    end
  end
end
table.sort(cands, function(a, b)
  if a[3] ~= b[3] then return a[3] < b[3] end
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local out = { now, #dead / 2 }
for _, v in ipairs(dead) do out[#out + 1] = v end
local moved, moved_order = {}, {}
for i = 1, math.min(max, #cands) do
  local topic, id, probe = cands[i][1], cands[i][2], cands[i][4]
  local pol = policy(sub, topic)
  local tok = tokp .. i
  local exp = now + pol.visibilityTimeoutMs
  local mk = k_msg(sub, topic, id)
  local h = redis.call('HMGET', mk, 'att', 'body', 'first', 'errs')
  local m = moved[topic]
  if not m then
    m = { ids = {}, leased = {} }
    moved[topic] = m
    moved_order[#moved_order + 1] = topic
  end
  m.ids[#m.ids + 1] = id
  if h[2] then
    local att = (tonumber(h[1]) or 0) + 1
    redis.call('HSET', mk, 'att', att, 'tok', tok, 'exp', exp)
    m.leased[#m.leased + 1] = exp
    m.leased[#m.leased + 1] = id
    if probe then redis.call('HSET', k_cb(sub, topic), 'probe', tok, 'probe_id', id) end
    local n = #out
    out[n + 1] = topic
    out[n + 2] = id
    out[n + 3] = h[2]
    out[n + 4] = att
    out[n + 5] = pol.maxAttempts
    out[n + 6] = tok
    out[n + 7] = exp
    out[n + 8] = h[3]
    out[n + 9] = h[4] or ''
  end
end
for _, topic in ipairs(moved_order) do
  chunked('ZREM', k_ready(sub, topic), moved[topic].ids, 1)
  chunked('ZADD', k_leased(sub, topic), moved[topic].leased, 2)
end
return out
`;

/**
 * ARGV: ns, n, then subscriber, topic, eventId, token × n → 1 acked / 0 stale each. The client sends
 * one call per subscriber (one slot on Redis Cluster).
 * Per message one HMGET (the lease check); deletions and the dedup ZADD go per subscriber and topic.
 */
export const ACK =
  PRELUDE +
  lua`
local n = tonumber(ARGV[2])
local now = now_ms()
local groups, order = {}, {}
local acked = {}
local out = {}
for i = 0, n - 1 do
  local sub, topic, id, token = ARGV[3 + i * 4], ARGV[4 + i * 4], ARGV[5 + i * 4], ARGV[6 + i * 4]
  local mk = k_msg(sub, topic, id)
  local result = 0
  -- acked[mk]: the same lease twice in one batch; the second is stale, as after a separate ack.
  if not acked[mk] then
    local h = redis.call('HMGET', mk, 'tok', 'exp')
    if h[1] and h[1] == token and tonumber(h[2]) > now then
      local gk = sub .. '\0' .. topic
      local g = groups[gk]
      if not g then
        g = { sub = sub, topic = topic, keys = {}, ids = {}, processed = {}, probe = redis.call('HGET', k_cb(sub, topic), 'probe'), probe_acked = false }
        groups[gk] = g
        order[#order + 1] = gk
      end
      local pol = policy(sub, topic)
      g.keys[#g.keys + 1] = mk
      g.ids[#g.ids + 1] = id
      g.processed[#g.processed + 1] = now + pol.dedupWindowMs
      g.processed[#g.processed + 1] = id
      if g.probe and g.probe == token then g.probe_acked = true end
      acked[mk] = true
      result = 1
    end
  end
  out[i + 1] = result
end
for _, gk in ipairs(order) do
  local g = groups[gk]
  local sub, topic = g.sub, g.topic
  local window = policy(sub, topic).dedupWindowMs
  local pk = k_processed(sub, topic)
  local i, keys = 1, g.keys
  while i <= #keys do
    local last = math.min(#keys, i + CHUNK - 1)
    redis.call('DEL', unpack(keys, i, last))
    i = last + 1
  end
  chunked('ZREM', k_leased(sub, topic), g.ids, 1)
  chunked('ZADD', pk, g.processed, 2)
  if g.probe_acked then redis.call('DEL', k_cb(sub, topic), k_cbf(sub, topic)) end
  redis.call('ZREMRANGEBYSCORE', pk, '-inf', now)
  if redis.call('PTTL', pk) < window then redis.call('PEXPIRE', pk, window) end
end
return out
`;

/**
 * ARGV: ns, subscriber, topic, eventId, token, error, random, permanent ('1' / '0'), code →
 * 'retry-scheduled' | 'dead-lettered' | 'stale'. A permanent failure is dead-lettered at once and
 * is no breaker failure (a permanently failed probe frees the probe slot).
 */
export const NACK =
  PRELUDE +
  lua`
local sub, topic, id, token, message, r = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local permanent, code = ARGV[8] == '1', ARGV[9]
local now = now_ms()
local mk = k_msg(sub, topic, id)
local h = redis.call('HMGET', mk, 'tok', 'exp', 'att', 'errs', 'ff', 'body')
if not h[1] or h[1] ~= token or tonumber(h[2]) <= now then return 'stale' end
local pol = policy(sub, topic)
local att = tonumber(h[3])
local errs = append_error(h[4], att, now, message)
local ff = tonumber(h[5]) or now
redis.call('ZREM', k_leased(sub, topic), id)
if permanent then
  if redis.call('HGET', k_cb(sub, topic), 'probe') == token then redis.call('HDEL', k_cb(sub, topic), 'probe', 'probe_id') end
  dead_letter(sub, topic, id, 'permanent_error', now, h[6], att, errs, ff, now, code)
  return 'dead-lettered'
end
breaker_failure(sub, topic, pol, now, id, token)
if att >= pol.maxAttempts then
  dead_letter(sub, topic, id, 'max_attempts', now, h[6], att, errs, ff, now)
  return 'dead-lettered'
end
local b = pol.backoff
local d = math.min(b.maxMs, b.initialMs * math.pow(b.multiplier, math.max(0, att - 1)))
local delay = math.floor(d * (1 - b.jitter * r))
redis.call('HSET', mk, 'errs', errs, 'ff', ff)
redis.call('HDEL', mk, 'tok', 'exp')
redis.call('ZADD', k_ready(sub, topic), now + delay, id)
return 'retry-scheduled'
`;

/** ARGV: ns, subscriber, topic, eventId → 1 when processed within the dedup window. */
export const IS_PROCESSED =
  PRELUDE +
  lua`
local until_ms = redis.call('ZSCORE', k_processed(ARGV[2], ARGV[3]), ARGV[4])
if until_ms and tonumber(until_ms) > now_ms() then return 1 end
return 0
`;

/** ARGV: ns, subscriber → topic, count, topic, count, … */
export const DEPTH =
  PRELUDE +
  lua`
local sub = ARGV[2]
local out = {}
for _, topic in ipairs(redis.call('SMEMBERS', k_topics(sub))) do
  out[#out + 1] = topic
  out[#out + 1] = redis.call('ZCARD', k_ready(sub, topic)) + redis.call('ZCARD', k_leased(sub, topic))
end
return out
`;

/**
 * ARGV: ns, subscriber, topic? → { now, then per breaker: subscriber, topic, state, failures, until }.
 * With no topic: the breaker of every topic of the subscriber.
 */
export const BREAKERS =
  PRELUDE +
  lua`
local now = now_ms()
local pairs_list = {}
if ARGV[3] and ARGV[3] ~= '' then
  pairs_list[1] = { ARGV[2], ARGV[3] }
else
  for _, topic in ipairs(redis.call('SMEMBERS', k_topics(ARGV[2]))) do pairs_list[#pairs_list + 1] = { ARGV[2], topic } end
end
local out = { now }
for _, st in ipairs(pairs_list) do
  local sub, topic = st[1], st[2]
  local pol = policy(sub, topic)
  local cb = redis.call('HMGET', k_cb(sub, topic), 'state', 'until')
  local failures = redis.call('ZCOUNT', k_cbf(sub, topic), '(' .. (now - pol.breaker.windowMs), '+inf')
  local state, until_ms = 'closed', ''
  if cb[1] == 'open' then
    until_ms = cb[2]
    if now < tonumber(cb[2]) then state = 'open' else state = 'half-open' end
  end
  local n = #out
  out[n + 1] = sub
  out[n + 2] = topic
  out[n + 3] = state
  out[n + 4] = failures
  out[n + 5] = until_ms
end
return out
`;

/**
 * ARGV: ns, topic, subscriber, n, ids… (n = -1: every entry) → how many removed from the
 * subscriber's dead letters of the topic. DLQ fields are "<subscriber>:<id>".
 */
export const DLQ_REMOVE =
  PRELUDE +
  lua`
local topic, sub, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local hk, ok = k_dlq(sub, topic), k_dlq_order(sub, topic)
local removed = 0
if n >= 0 then
  for i = 1, n do
    local field = sub .. ':' .. ARGV[4 + i]
    if redis.call('HDEL', hk, field) == 1 then
      redis.call('ZREM', ok, field)
      removed = removed + 1
    end
  end
else
  removed = redis.call('HLEN', hk)
  redis.call('DEL', hk, ok)
end
if redis.call('HLEN', hk) == 0 then
  redis.call('DEL', ok)
  redis.call('SREM', k_dlq_topics(sub), topic)
end
return removed
`;

/**
 * ARGV: ns, n, then subscriber, topic, eventId × n (one subscriber per call) → { now, then per query: att, tok, exp, errs,
 * first, readyScore, processedScore, dlqEntryJson (without its body), maxAttempts, dedupWindowMs } ('' where absent).
 * Read-only: what the ledger knows of each event for each subscriber.
 */
export const DELIVERIES =
  PRELUDE +
  lua`
local n = tonumber(ARGV[2])
local now = now_ms()
local out = { now }
for i = 0, n - 1 do
  local sub, topic, id = ARGV[3 + i * 3], ARGV[4 + i * 3], ARGV[5 + i * 3]
  local h = redis.call('HMGET', k_msg(sub, topic, id), 'att', 'tok', 'exp', 'errs', 'first')
  local ready = redis.call('ZSCORE', k_ready(sub, topic), id)
  local processed = redis.call('ZSCORE', k_processed(sub, topic), id)
  local dl = redis.call('HGET', k_dlq(sub, topic), sub .. ':' .. id)
  if dl then
    local e = cjson.decode(dl)
    e.body = nil
    dl = cjson.encode(e)
  end
  local pol = policy(sub, topic)
  local m = #out
  out[m + 1] = h[1] or ''
  out[m + 2] = h[2] or ''
  out[m + 3] = h[3] or ''
  out[m + 4] = h[4] or ''
  out[m + 5] = h[5] or ''
  out[m + 6] = ready or ''
  out[m + 7] = processed or ''
  out[m + 8] = dl or ''
  out[m + 9] = pol.maxAttempts
  out[m + 10] = pol.dedupWindowMs
end
return out
`;
