// Idempotency-Key for every state-changing request of a service (POST, PUT, PATCH, DELETE).
//
// - Same key, same request (method, URL and JSON body, field order ignored, defaults applied) → the
//   stored response: status, body and headers (x-command-id and x-correlation-id of the original
//   command), plus `idempotent-replayed: true`, with no second effect.
// - Same key, another request → 422 idempotency_key_reused.
// - Keys live in the service's own database (table idempotency_keys) for IDEMPOTENCY_TTL_MS (default
//   24 h); expired ones are purged by a background job and never replayed.
//
// Two modes, chosen per route with `config: { idempotency: 'transaction' | 'lease' }`:
// - transaction (default): the whole command runs in ONE transaction opened here; the key is claimed
//   first in it, the command's own transactions join it (unit-of-work.ts), and the response is stored
//   in it before it commits; the response goes out only after the commit. So the key, the effect and
//   the stored response commit together: a crash after the commit leaves the answer for the retry, a
//   crash before leaves nothing. A concurrent request with the same key waits on the key row's lock
//   and then replays the first one's response (one effect).
// - lease: for commands that must commit more than once (e.g. record a charge attempt before calling
//   the provider). The key is claimed in its own commit with a lease (IDEMPOTENCY_LEASE_MS); the
//   response is stored when it is sent. A concurrent request waits up to IDEMPOTENCY_WAIT_MS for the
//   first to finish and replays it, else gets 409 idempotency_key_in_use (Retry-After). A crash
//   mid-command leaves the claim until its lease lapses; then a retry runs the command again (such
//   commands are idempotent by their own design).
// A response with status ≥ 500 is never stored (the claim is undone), so the client can retry.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Migration, SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import type { Logger } from '@albergue/platform';
import type { IdempotencyMode } from '@albergue/platform/http';
import { problem, sendProblem } from '@albergue/platform/http';
import { transactionScope } from './unit-of-work.js';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

export const IDEMPOTENCY_MIGRATION: Migration = {
  version: 60,
  name: 'idempotency_keys',
  sql: `
    CREATE TABLE IF NOT EXISTS idempotency_keys (
      idempotency_key  text PRIMARY KEY,
      fingerprint      text NOT NULL,
      method           text NOT NULL,
      url              text NOT NULL,
      state            text NOT NULL CHECK (state IN ('in_flight', 'done')),
      locked_until     timestamptz,
      response_status  integer,
      response_headers jsonb,
      response_body    text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      expires_at       timestamptz NOT NULL
    );
    CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at);
  `,
};

export type { IdempotencyMode };

export interface IdempotencyOptions {
  /** The service's database (the plain one, not the unit-of-work wrapper). */
  readonly db: SqlDatabase;
  readonly logger: Logger;
  /** How long a key and its response are kept (default 24 h). */
  readonly ttlMs?: number;
  /** How long a request waits for another one with its key to finish (lease mode; default 10 s). */
  readonly waitMs?: number;
  /** How long a lease-mode claim holds before a retry may take it over (default 60 s). */
  readonly leaseMs?: number;
}

export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

interface StoredResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

type KeyRow = {
  fingerprint: string;
  state: 'in_flight' | 'done';
  lease_lapsed: boolean;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
};

/** Per request: what the onSend hook hands to the command's transaction, and what it waits for. */
interface Pending {
  readonly mode: IdempotencyMode;
  readonly key: string;
  finished: boolean;
  respond(r: StoredResponse): void;
  /** Resolves true once the response is durable (committed / stored), false when it is not. */
  readonly durable: Promise<boolean>;
}

const kPending = Symbol('idempotency.pending');
type WithPending = FastifyRequest & { [kPending]?: Pending };

const KEY_RE = /^[\x21-\x7e]{1,255}$/;
const COMMAND_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Response headers that describe the connection or the bytes, not the answer. */
const UNSTORED_HEADERS = new Set([
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'set-cookie',
  REPLAYED_HEADER,
]);

class KeyTaken extends Error {}
class NotStored extends Error {}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same request. */
function canonical(value: unknown, depth = 0): string {
  if (depth > 64 || value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v, depth + 1)}`).join(',')}}`;
}

export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([method.toUpperCase(), url]))
    .update('\n')
    .update(canonical(body))
    .digest('hex');
}

export class IdempotencyStore {
  constructor(
    private readonly db: SqlDatabase,
    private readonly ttlMs: number = DEFAULT_IDEMPOTENCY_TTL_MS,
  ) {}

  /** The live (unexpired) row of `key`. */
  async find(key: string): Promise<KeyRow | undefined> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT fingerprint, state, (locked_until IS NOT NULL AND locked_until <= now()) AS lease_lapsed,
              response_status, response_headers, response_body
         FROM idempotency_keys WHERE idempotency_key = $1 AND expires_at > now()`,
      [key],
    );
    return rows[0];
  }

  /**
   * Claims `key` (a new row, or an expired one / a lapsed lease taken over); false when someone
   * else holds it. In a transaction the claim waits for a concurrent uncommitted claim of the key.
   */
  async claim(on: SqlExecutor, key: string, fingerprint: string, method: string, url: string, leaseMs?: number): Promise<boolean> {
    const { rowCount } = await on.query(
      `INSERT INTO idempotency_keys (idempotency_key, fingerprint, method, url, state, locked_until, expires_at)
       VALUES ($1, $2, $3, $4, 'in_flight', now() + $5 * interval '1 millisecond', now() + $6 * interval '1 millisecond')
       ON CONFLICT (idempotency_key) DO UPDATE SET
         fingerprint = EXCLUDED.fingerprint, method = EXCLUDED.method, url = EXCLUDED.url, state = 'in_flight',
         locked_until = EXCLUDED.locked_until, response_status = NULL, response_headers = NULL, response_body = NULL,
         created_at = now(), expires_at = EXCLUDED.expires_at
       WHERE idempotency_keys.expires_at <= now()
          OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.locked_until <= now())
       RETURNING 1`,
      [key, fingerprint, method, url, leaseMs ?? null, this.ttlMs],
    );
    return rowCount > 0;
  }

  async complete(on: SqlExecutor, key: string, r: StoredResponse): Promise<void> {
    await on.query(
      `UPDATE idempotency_keys SET state = 'done', locked_until = NULL, response_status = $2, response_headers = $3::jsonb, response_body = $4
        WHERE idempotency_key = $1`,
      [key, r.status, JSON.stringify(r.headers), r.body],
    );
  }

  async release(key: string): Promise<void> {
    await this.db.query(`DELETE FROM idempotency_keys WHERE idempotency_key = $1 AND state = 'in_flight'`, [key]);
  }

  /** Deletes expired keys, at most `limit` per call; returns how many. */
  async purgeExpired(limit = 1000): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM idempotency_keys WHERE idempotency_key IN (
         SELECT idempotency_key FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT $1)`,
      [limit],
    );
    return rowCount;
  }
}

function storedHeaders(reply: FastifyReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined || UNSTORED_HEADERS.has(name.toLowerCase())) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function payloadText(payload: unknown): string | undefined {
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  if (payload === null || payload === undefined) return '';
  return undefined; // a stream: not storable
}

/**
 * Installs Idempotency-Key handling on the service's root app: wraps the handler of every command
 * route registered after this call. Returns the store (for the purge job).
 */
export function installIdempotency(app: FastifyInstance, o: IdempotencyOptions): IdempotencyStore {
  const store = new IdempotencyStore(o.db, o.ttlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS);
  const waitMs = o.waitMs ?? 10_000;
  const leaseMs = o.leaseMs ?? 60_000;

  const replay = (reply: FastifyReply, row: KeyRow): FastifyReply => {
    reply.code(row.response_status ?? 200);
    for (const [name, value] of Object.entries(row.response_headers ?? {})) reply.header(name, value);
    reply.header(REPLAYED_HEADER, 'true');
    return reply.send(row.response_body ?? '');
  };

  const reused = (reply: FastifyReply): FastifyReply =>
    sendProblem(
      reply,
      problem(
        422,
        'idempotency_key_reused',
        'this Idempotency-Key was used for another request (a different method, URL or body); use a new key for a new request',
        [{ path: '/headers/idempotency-key', message: 'was used for another request', code: 'idempotency_key_reused' }],
      ),
    );

  const inUse = (reply: FastifyReply): FastifyReply => {
    reply.header('retry-after', '1');
    return sendProblem(
      reply,
      problem(
        409,
        'idempotency_key_in_use',
        'a request with this Idempotency-Key is still in progress; retry it with the same key shortly to get its response',
        [{ path: '/headers/idempotency-key', message: 'is in use by a request in progress', code: 'idempotency_key_in_use' }],
      ),
    );
  };

  // Every response passes here: the command's stored answer is captured before it is written.
  app.addHook('onSend', async (req, reply, payload) => {
    const p = (req as WithPending)[kPending];
    if (!p || p.finished) return payload;
    p.finished = true;
    const body = payloadText(payload);
    p.respond({ status: reply.statusCode, headers: storedHeaders(reply), body: body ?? '' });
    const durable = await p.durable;
    if (!durable && reply.statusCode < 500 && p.mode === 'transaction') {
      // The command did not commit after all: never report success for it.
      reply.code(500).type('application/problem+json');
      return JSON.stringify(problem(500, 'internal_error', 'the request could not be completed; retry it with the same Idempotency-Key'));
    }
    return payload;
  });

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => COMMAND_METHODS.has(String(m).toUpperCase()))) return;
    const handler = route.handler as RouteHandlerMethod;
    const mode: IdempotencyMode = route.config?.idempotency ?? 'transaction';
    route.handler = async function idempotent(this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
      const raw = req.headers[IDEMPOTENCY_KEY_HEADER];
      if (raw === undefined) return handler.call(this, req, reply);
      if (typeof raw !== 'string' || !KEY_RE.test(raw)) {
        return sendProblem(
          reply,
          problem(400, 'invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters (e.g. a UUID)', [
            { path: '/headers/idempotency-key', message: 'must be 1 to 255 visible ASCII characters', code: 'invalid_idempotency_key' },
          ]),
        );
      }
      const key = raw;
      const url = req.url;
      const fingerprint = requestFingerprint(req.method, url, req.body);
      const deadline = Date.now() + waitMs;
      for (let round = 0; round < 10_000; round++) {
        const row = await store.find(key);
        if (row) {
          if (row.fingerprint !== fingerprint) return reused(reply);
          if (row.state === 'done') return replay(reply, row);
          if (!row.lease_lapsed) {
            if (Date.now() >= deadline) return inUse(reply);
            await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** Math.min(round, 4), 250)));
            continue;
          }
        }
        try {
          return mode === 'transaction'
            ? await runInTransaction(this, handler, req, reply, key, fingerprint)
            : await runWithLease(this, handler, req, reply, key, fingerprint);
        } catch (err) {
          if (err instanceof KeyTaken) continue; // someone else committed it meanwhile: replay theirs
          throw err;
        }
      }
      return inUse(reply);
    };
  });

  async function runInTransaction(
    self: FastifyInstance,
    handler: RouteHandlerMethod,
    req: FastifyRequest,
    reply: FastifyReply,
    key: string,
    fingerprint: string,
  ): Promise<FastifyReply> {
    const response = deferred<StoredResponse>();
    const durable = deferred<boolean>();
    const pending: Pending = { mode: 'transaction', key, finished: false, respond: response.resolve, durable: durable.promise };
    let sent = false;
    try {
      await o.db.transaction(async (tx: SqlTransaction) => {
        if (!(await store.claim(tx, key, fingerprint, req.method, req.url))) throw new KeyTaken();
        (req as WithPending)[kPending] = pending;
        const scope = transactionScope(tx);
        try {
          // Not awaited as such: an async handler that returns `reply` settles only once the response
          // is written, and that waits for this commit. The response reaching onSend is the signal.
          const handled: Promise<unknown> = Promise.resolve(scope.run(() => handler.call(self, req, reply)));
          handled.catch(() => undefined);
          const first = await Promise.race([
            response.promise.then((r) => ({ kind: 'response' as const, r })),
            handled.then(
              (value) => ({ kind: 'value' as const, value }),
              (error: unknown) => ({ kind: 'error' as const, error }),
            ),
          ]);
          if (first.kind === 'error') throw first.error;
          if (first.kind === 'value' && first.value !== undefined && first.value !== reply) reply.send(first.value);
          sent = true;
          const r = first.kind === 'response' ? first.r : await response.promise;
          if (r.status >= 500) throw new NotStored();
          await store.complete(tx, key, r);
        } finally {
          scope.close();
        }
      });
      durable.resolve(true);
      return reply;
    } catch (err) {
      durable.resolve(false);
      if (sent) {
        // The response is waiting in onSend, which turns it into a 500 now that nothing committed.
        if (!(err instanceof NotStored)) req.log.error({ err }, 'command rolled back after its response was ready; answered 500');
        return reply;
      }
      // Nothing was sent: the error handler answers (and the hook lets that answer through).
      pending.finished = true;
      delete (req as WithPending)[kPending];
      throw err;
    }
  }

  async function runWithLease(
    self: FastifyInstance,
    handler: RouteHandlerMethod,
    req: FastifyRequest,
    reply: FastifyReply,
    key: string,
    fingerprint: string,
  ): Promise<FastifyReply> {
    if (!(await store.claim(o.db, key, fingerprint, req.method, req.url, leaseMs))) throw new KeyTaken();
    const durable = deferred<boolean>();
    const pending: Pending = {
      mode: 'lease',
      key,
      finished: false,
      durable: durable.promise,
      respond: (r) => {
        const done = r.status >= 500 ? store.release(key) : store.complete(o.db, key, r);
        done.then(
          () => durable.resolve(true),
          (err: unknown) => {
            o.logger.warn({ err, idempotency_key: key }, 'could not store the response of an idempotent request; a retry runs it again');
            durable.resolve(false);
          },
        );
      },
    };
    (req as WithPending)[kPending] = pending;
    try {
      // A handler that returns `reply` settles once the response is written (reply is a thenable).
      const value: unknown = await handler.call(self, req, reply);
      if (value !== undefined && value !== reply && !reply.sent && !pending.finished) reply.send(value);
      return reply;
    } catch (err) {
      if (!pending.finished) {
        pending.finished = true;
        await store
          .release(key)
          .catch((e: unknown) => o.logger.warn({ err: e, idempotency_key: key }, 'could not release an idempotency key'));
      }
      throw err;
    }
  }

  return store;
}
