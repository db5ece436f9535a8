import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import type { Logger } from '@albergue/platform';
import { RecentKeys } from './recent-keys.js';

/** Whether the storage can take messages now, and why not. */
interface StorageHealth {
  readonly ok: boolean;
  readonly reason?: string;
}

/**
 * Where Aedes keeps sessions, subscriptions, retained messages and queued QoS 1 messages, and how
 * several broker instances exchange messages. Redis: aedes-persistence-redis + mqemitter-redis
 * (instances sharing one Redis form one broker). Memory: Aedes' defaults (the embedded mode).
 */
export interface BrokerStorage {
  readonly kind: 'redis' | 'memory';
  /** Options to spread into `Aedes.createBroker`. */
  readonly aedesOptions: { persistence?: unknown; mq?: unknown };
  /** Readiness: false while Redis is away or the broker's pub/sub subscriptions are being restored. */
  health(): StorageHealth;
  /**
   * Called before the broker closes its clients: if Redis is away, drops the connections so that
   * closing fails what waits for Redis instead of waiting for it forever.
   */
  beforeClose(): void;
  /** Releases connections after the broker has closed. */
  close(): Promise<void>;
}

export function memoryStorage(): BrokerStorage {
  return { kind: 'memory', aedesOptions: {}, health: () => ({ ok: true }), beforeClose: () => undefined, close: () => Promise.resolve() };
}

export interface RedisStorageOptions {
  readonly logger?: Logger;
}

/**
 * Redis storage. Note: aedes-persistence-redis uses unprefixed keys (`client:*`, `retained:*`,
 * `outgoing:*`, `packet:*`, ...) and mqemitter-redis uses Redis pub/sub, which is shared by all
 * databases of a server: give each independent broker its own Redis server.
 *
 * Redis outages: every connection retries forever and queues its commands meanwhile
 * (`maxRetriesPerRequest: null`), so a message Aedes has taken waits in this process and goes on
 * when Redis is back; every connection's `error` is handled (an unhandled one from mqemitter-redis
 * killed the process); `health()` says not ready, with the reason, until all connections are back and
 * the pub/sub subscriptions are restored (see `PubSubGate`).
 */
export async function redisStorage(redisUrl: string, options: RedisStorageOptions = {}): Promise<BrokerStorage> {
  const watch = new ConnectionWatch(options.logger);
  // The persistence owns its connection and disconnects it in destroy(); closing the broker
  // (aedes.close) closes the mqemitter.
  const persistenceConn = watch.add('persistence', new Redis(redisUrl, { maxRetriesPerRequest: null }));
  const persistence = redisPersistence(persistenceConn);
  // mqemitter-redis subscribes on its connection as soon as Aedes asks; on a connection that is not
  // ready yet ioredis' ready check (INFO) then fails with "Connection in subscriber mode" and the
  // error crashes the broker. Hand it connections that are already ready.
  const subConn = watch.add('pub/sub subscriber', new Redis(redisUrl, { maxRetriesPerRequest: null }));
  const pubConn = watch.add('pub/sub publisher', new Redis(redisUrl, { maxRetriesPerRequest: null }));
  try {
    await Promise.all([ready(subConn), ready(pubConn)]);
  } catch (err) {
    for (const c of [persistenceConn, subConn, pubConn]) c.disconnect();
    throw err;
  }
  // mqemitter-redis' close() calls quit() on both and drops the promise: on a connection that is
  // already closed (Redis gone, or dropped while stopping) that is an unhandled rejection.
  for (const c of [subConn, pubConn]) handleQuitRejection(c);
  const mq = MQEmitterRedis({ subConn, pubConn }) as unknown as RedisEmitter;
  // mqemitter-redis re-emits its connections' errors here; without a listener the process dies.
  mq.state.on('error', () => undefined);
  const gate = new PubSubGate(mq, subConn, options.logger);
  // Stopping while Redis is away: Aedes' client cleanup, mqemitter-redis' QUIT and the persistence's
  // destroy() would each wait for Redis forever. The connections are dropped instead, which fails
  // what waits (messages the broker took but could not store yet are lost; the log says so).
  let abandoned = false;
  const abandonIfUnavailable = () => {
    if (abandoned || [persistenceConn, subConn, pubConn].every((c) => c.status === 'ready')) return;
    abandoned = true;
    options.logger?.warn('stopping while Redis is away: what waits for Redis is dropped');
    mq.closing = true;
    for (const c of [persistenceConn, subConn, pubConn]) dropConnection(c);
  };
  const closeEmitter = mq.close.bind(mq);
  mq.close = (cb) => {
    abandonIfUnavailable();
    return abandoned ? mq._close(cb) : closeEmitter(cb);
  };
  return {
    kind: 'redis',
    aedesOptions: { persistence, mq },
    health: () => watch.health() ?? gate.health(),
    beforeClose: () => {
      watch.close();
      abandonIfUnavailable();
    },
    close: async () => {
      gate.close();
      watch.close();
      abandonIfUnavailable();
      if (abandoned) return;
      await Promise.resolve(persistence.destroy());
    },
  };
}

/**
 * Ends a connection at once and fails everything queued on it. ioredis' disconnect() alone does not
 * while it waits to reconnect (no socket left to close, so nothing is flushed and the status stays
 * `reconnecting`): its own end-of-connection steps are taken here.
 */
function dropConnection(conn: Redis): void {
  conn.disconnect();
  if (conn.status === 'end') return;
  const internals = conn as unknown as { setStatus?(status: string): void; flushQueue?(err: Error): void };
  internals.setStatus?.('end');
  internals.flushQueue?.(new Error('Redis unavailable: the broker is stopping'));
}

function handleQuitRejection(conn: Redis): void {
  const quit = conn.quit.bind(conn);
  conn.quit = (...args: Parameters<Redis['quit']>) => {
    const done = quit(...args);
    done.catch(() => undefined); // closing a closed connection: nothing left to do
    return done;
  };
}

function ready(conn: Redis): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    conn.once('ready', () => resolve());
    conn.once('error', reject);
  });
}

/** Tracks the broker's Redis connections: handles their errors, logs each outage once, reports readiness. */
class ConnectionWatch {
  private readonly conns: { name: string; conn: Redis; lastError?: string; down: boolean }[] = [];
  private closed = false;

  constructor(private readonly logger: Logger | undefined) {}

  add(name: string, conn: Redis): Redis {
    const entry: { name: string; conn: Redis; lastError?: string; down: boolean } = { name, conn, down: false };
    this.conns.push(entry);
    // ioredis emits `error` on every failed reconnection attempt: remember it, log the outage once.
    conn.on('error', (err: Error) => {
      entry.lastError = err.message;
      if (!entry.down && !this.closed)
        this.logger?.error({ connection: name, err: err.message }, 'Redis connection lost; messages wait in the broker until it is back');
      entry.down = true;
    });
    conn.on('close', () => {
      if (!entry.down && !this.closed) this.logger?.warn({ connection: name }, 'Redis connection closed; reconnecting');
      entry.down = true;
    });
    conn.on('ready', () => {
      if (entry.down && !this.closed) this.logger?.info({ connection: name }, 'Redis connection restored');
      entry.down = false;
      delete entry.lastError;
    });
    return conn;
  }

  health(): StorageHealth | undefined {
    const bad = this.conns.find((c) => c.conn.status !== 'ready');
    if (!bad) return undefined;
    return { ok: false, reason: `Redis ${bad.name} connection ${bad.conn.status}${bad.lastError ? ` (${bad.lastError})` : ''}` };
  }

  close(): void {
    this.closed = true;
  }
}

/** The parts of mqemitter-redis 7.2 (and its mqemitter base) the gate wraps. */
interface EmittedPacket {
  topic: string;
  brokerId?: string | null;
  brokerCounter?: number | string;
}
type EmitCallback = (err?: unknown) => void;
interface RedisEmitter {
  readonly state: { on(event: 'error', fn: (err: Error) => void): unknown };
  /** Publishes on Redis; every instance (this one included) gets it back through its subscriber connection. */
  emit(packet: EmittedPacket, cb?: EmitCallback): unknown;
  /** Local delivery of a message received from Redis. */
  _emit(packet: EmittedPacket, cb?: EmitCallback): unknown;
  readonly _matcher?: { match(topic: string): unknown[] };
  close(cb: () => void): unknown;
  /** mqemitter's own close (no Redis involved). */
  _close(cb: () => void): unknown;
  /** Set while closing: mqemitter-redis then stops re-emitting connection errors. */
  closing?: boolean;
}

const AWAITING_TTL_MS = 30_000;
const ARRIVED_REMEMBERED = 10_000;

/**
 * Keeps local fan-out whole across a Redis outage. mqemitter-redis delivers a message to this
 * instance's subscribers only when it comes back through the subscriber connection. When Redis
 * restarts, the publisher connection may resend its unanswered PUBLISHes before the subscriber
 * connection has restored its subscriptions, and a message Redis wrote to the old subscriber
 * connection may never be read: those messages would reach no live subscriber here.
 * So: while the subscriber connection is away, new messages are held (in order); every message with
 * a local listener is remembered until it comes back; once the subscriptions are restored (a PING
 * answered after the resubscribe on the same connection), the ones that did not come back are sent
 * again, then the held ones. A copy that comes back twice is delivered once.
 */
class PubSubGate {
  private open = true;
  private openedAt = Date.now();
  private readonly held: [EmittedPacket, EmitCallback | undefined][] = [];
  private readonly awaiting = new Map<string, { packet: EmittedPacket; at: number }>();
  private readonly arrived = new RecentKeys(ARRIVED_REMEMBERED);
  private readonly sweep: NodeJS.Timeout;
  private closed = false;
  private readonly emit: (packet: EmittedPacket, cb?: EmitCallback) => unknown;

  constructor(
    private readonly mq: RedisEmitter,
    subConn: Redis,
    private readonly logger: Logger | undefined,
  ) {
    this.emit = mq.emit.bind(mq);
    const deliverLocally = mq._emit.bind(mq);
    mq.emit = (packet, cb) => {
      if (!this.open) this.held.push([packet, cb]);
      else this.send(packet, cb);
      return mq;
    };
    mq._emit = (packet, cb) => {
      const key = keyOf(packet);
      if (key !== undefined) {
        this.awaiting.delete(key);
        if (this.arrived.has(key)) return cb?.(); // a resent copy of a message already delivered here
        this.arrived.add(key);
      }
      return deliverLocally(packet, cb);
    };
    subConn.on('close', () => {
      this.open = false;
    });
    subConn.on('ready', () => {
      // ioredis emits `ready` after it has written the resubscribe commands; Redis answers in order.
      subConn.ping().then(
        () => this.reopen(),
        () => undefined,
      );
    });
    // Forget messages whose echo will not come (a listener removed meanwhile), once the gate has been open long enough.
    this.sweep = setInterval(() => this.forgetStale(), 5_000);
    this.sweep.unref();
  }

  health(): StorageHealth {
    return this.open ? { ok: true } : { ok: false, reason: 'Redis pub/sub subscriptions being restored' };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
  }

  private send(packet: EmittedPacket, cb: EmitCallback | undefined): void {
    const key = keyOf(packet);
    if (key !== undefined && (this.mq._matcher?.match(packet.topic).length ?? 0) > 0) this.awaiting.set(key, { packet, at: Date.now() });
    this.emit(packet, (err?: unknown) => this.published(err, cb));
  }

  /**
   * mqemitter-redis answers a PUBLISH with `.then(() => done()).catch(done)`: a callback that throws
   * (or its default error handler, which does) becomes an unhandled rejection that kills the process.
   * Seen when a connection closes under in-flight publishes while the broker stops. So every publish
   * gets this callback: it logs a failure (unless the broker is stopping) and never throws.
   */
  private published(err: unknown, cb: EmitCallback | undefined): void {
    if (err && !this.closed) this.logger?.warn({ err }, 'a message could not be published on Redis pub/sub');
    try {
      cb?.(err);
    } catch (thrown) {
      if (!this.closed) this.logger?.error({ err: thrown }, 'a pub/sub publish callback failed');
    }
  }

  private reopen(): void {
    if (this.open || this.closed) return;
    this.open = true;
    this.openedAt = Date.now();
    const resend = [...this.awaiting.values()].map((a) => a.packet);
    if (resend.length > 0 || this.held.length > 0)
      this.logger?.info(
        { resent: resend.length, held: this.held.length },
        'Redis pub/sub restored; resending what did not come back and what waited',
      );
    for (const packet of resend) this.emit(packet, () => undefined);
    for (const [packet, cb] of this.held.splice(0)) this.send(packet, cb);
  }

  private forgetStale(): void {
    const now = Date.now();
    if (!this.open || now - this.openedAt < AWAITING_TTL_MS) return;
    for (const [key, a] of this.awaiting) {
      if (now - a.at < AWAITING_TTL_MS) break;
      this.awaiting.delete(key);
    }
  }
}

function keyOf(packet: EmittedPacket): string | undefined {
  return packet.brokerId ? `${packet.brokerId}\u0000${String(packet.brokerCounter)}` : undefined;
}

/** The callback-style persistence object aedes-persistence-redis 11 returns, as far as it is used here. */
export interface RedisPersistence {
  destroy(cb?: () => void): unknown;
  addSubscriptions(client: { id: string }, subs: { topic: string }[], cb?: Callback): Promise<unknown> | undefined;
  incomingStorePacket(client: { id: string }, packet: { messageId?: number }, cb?: Callback): Promise<unknown> | undefined;
  incomingDelPacket(client: { id: string }, packet: { messageId?: number }, cb?: Callback): Promise<unknown> | undefined;
  cleanIncoming?(client: { id: string }, cb?: Callback): Promise<unknown> | undefined;
}
type Callback = (err?: Error | null) => void;

/** The persistence API is callback or promise, by whether a callback is passed (aedes uses promises, the spec suite callbacks). */
function withCallback(work: Promise<unknown>, cb: Callback | undefined): Promise<unknown> | undefined {
  if (!cb) return work;
  work.then(
    () => cb(null),
    (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
  );
  return undefined;
}

/**
 * aedes-persistence-redis 11.2 (inside aedes 1.2's declared peer range `^11.2.1`) on `conn`, with
 * what aedes 1.2 expects of it added here: `cleanIncoming` (see `addCleanIncoming`) and one answer
 * to concurrent identical `addSubscriptions` (see `coalesceAddSubscriptions`). Checked against the
 * abstract persistence suite of aedes-persistence 11 (the spec aedes 1.2 depends on):
 * `persistence-spec.test.ts`. `destroy()` disconnects `conn`.
 */
export function redisPersistence(conn: Redis): RedisPersistence {
  const persistence = aedesPersistenceRedis({ conn }) as RedisPersistence;
  coalesceAddSubscriptions(persistence);
  addCleanIncoming(persistence, conn);
  return persistence;
}

/** Per client, the message ids of its stored inbound QoS 2 packets (`incoming:<client>:<messageId>`). */
export function incomingIndexKey(clientId: string): string {
  return `incoming-ids:${encodeURIComponent(clientId)}`;
}

/**
 * aedes 1.2 calls `cleanIncoming(client)` when a clean session connects and when it closes
 * ([MQTT-3.1.2-6]: a clean session's QoS 2 dedup entries end with it); it feature-detects the
 * method, and aedes-persistence-redis 11 has none, so without this a client that publishes QoS 2
 * and never sends PUBREL (with fresh client ids, again and again) grows Redis without bound.
 * Version 12 has it but lies outside aedes 1.2's declared range. Here: each stored packet's message
 * id is also added to a per-client set (before the packet, so a crash in between leaves an id that
 * points at nothing, never a packet nobody can find), and `cleanIncoming` deletes the packets of
 * that set and the set: one round trip, whatever else Redis holds, no key-pattern scan (client ids
 * may contain `*`, `?`, `[`).
 */
function addCleanIncoming(persistence: RedisPersistence, conn: Redis): void {
  const store = persistence.incomingStorePacket.bind(persistence);
  const del = persistence.incomingDelPacket.bind(persistence);
  persistence.incomingStorePacket = (client, packet, cb) =>
    withCallback(
      (async () => {
        await conn.sadd(incomingIndexKey(client.id), String(packet.messageId));
        await store(client, packet);
      })(),
      cb,
    );
  persistence.incomingDelPacket = (client, packet, cb) =>
    withCallback(
      (async () => {
        await del(client, packet);
        await conn.srem(incomingIndexKey(client.id), String(packet.messageId));
      })(),
      cb,
    );
  persistence.cleanIncoming = (client, cb) => withCallback(cleanIncoming(conn, client.id), cb);
}

/**
 * Deletes every stored inbound QoS 2 packet of `clientId` and its index in one atomic script. The
 * packet keys (`incoming:<client>:<messageId>`, aedes-persistence-redis 11's layout) are built inside
 * the script, so like the library's own keys this assumes one Redis server, not a cluster.
 */
async function cleanIncoming(conn: Redis, clientId: string): Promise<void> {
  await conn.eval(CLEAN_INCOMING, 1, incomingIndexKey(clientId), `incoming:${encodeURIComponent(clientId)}:`);
}

// KEYS[1] = the client's index set, ARGV[1] = its packets' key prefix. Deletes in chunks (Lua's unpack limit).
const CLEAN_INCOMING = `
local ids = redis.call('SMEMBERS', KEYS[1])
for i = 1, #ids, 500 do
  local keys = {}
  for j = i, math.min(i + 499, #ids) do keys[#keys + 1] = ARGV[1] .. ids[j] end
  redis.call('DEL', unpack(keys))
end
redis.call('DEL', KEYS[1])
return #ids
`;

/**
 * aedes 1.2 calls `persistence.addSubscriptions(client, packet.subscriptions)` once per topic of a
 * SUBSCRIBE packet, all at once, with the whole list each time. aedes-persistence-redis waits for its
 * own `$SYS/sub/add` broadcast keyed by client and first topic, so only one of those concurrent calls
 * is ever answered: a persistent client subscribing to two or more topics in one packet never got
 * its SUBACK (found here with mqtt.js). Identical concurrent calls now share one.
 */
function coalesceAddSubscriptions(persistence: RedisPersistence): void {
  const original = persistence.addSubscriptions.bind(persistence);
  const inFlight = new Map<string, Promise<unknown>>();
  persistence.addSubscriptions = (client, subs, cb) => {
    const key = `${client.id}\u0000${subs.map((s) => s.topic).join('\u0000')}`;
    let p = inFlight.get(key);
    if (!p) {
      p = Promise.resolve(original(client, subs)).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return withCallback(p, cb);
  };
}
