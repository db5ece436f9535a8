import pg from 'pg';
import type { Logger } from '@albergue/platform';
import type { QueryResult, Row, SqlDatabase, SqlTransaction } from './port.js';

export interface PgDatabaseOptions {
  /** Pool size (default 10). */
  readonly max?: number;
  readonly logger?: Logger;
  /** Delay before the LISTEN connection is re-established after it broke (default 1000 ms). */
  readonly listenRetryMs?: number;
  /**
   * Distinct parameterised statements run as named prepared statements (default 256; 0 = none): each
   * connection parses and plans them once instead of on every call. Statements beyond the limit run
   * unnamed, as do statements without parameters.
   */
  readonly preparedStatements?: number;
}

type Listener = (payload: string) => void;

/** A query as node-postgres takes it: named when it is prepared once per connection. */
type PgQuery = { text: string; values: unknown[]; name?: string };

/**
 * Postgres refuses to run a prepared statement whose result columns changed since it was prepared
 * (a table altered under it): `0A000 cached plan must not change result type`.
 */
function isStalePlan(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '0A000' && /cached plan/.test(String((err as Error).message));
}

/** `SqlDatabase` on real Postgres through a `pg` Pool; LISTEN uses one extra dedicated connection. */
export class PgDatabase implements SqlDatabase {
  readonly driver = 'pg' as const;
  private readonly pool: pg.Pool;
  private readonly listeners = new Map<string, Set<Listener>>();
  private listenClient: pg.Client | undefined;
  private listenConnecting: Promise<pg.Client> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** SQL text → prepared statement name; bounded by `preparedStatements`. */
  private readonly statementNames = new Map<string, string>();
  private readonly maxPrepared: number;

  constructor(
    private readonly connectionString: string,
    private readonly options: PgDatabaseOptions = {},
  ) {
    this.pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
    this.maxPrepared = options.preparedStatements ?? 256;
    // An idle client that dies (server restart) must not crash the process; the pool replaces it.
    this.pool.on('error', (err) => options.logger?.warn({ err }, 'idle postgres connection failed'));
  }

  async query<R extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const r = await this.run<R>((q) => this.pool.query<R>(q), sql, params);
    return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
  }

  /**
   * Runs a statement, named (prepared once per connection: Postgres skips parsing and planning on
   * later calls) when it has parameters and fits under the limit. A statement whose prepared plan went
   * stale (its table changed shape) stays unnamed from then on, and runs again unnamed unless it was
   * in a transaction (which the error aborted: the caller's retry runs it unnamed).
   */
  private async run<R extends Row>(
    send: (q: PgQuery) => Promise<pg.QueryResult<R>>,
    text: string,
    params: readonly unknown[],
    inTransaction = false,
  ): Promise<pg.QueryResult<R>> {
    const values = params as unknown[];
    const name = values.length > 0 ? this.statementName(text) : undefined;
    if (name === undefined) return send({ text, values });
    try {
      return await send({ name, text, values });
    } catch (err) {
      if (!isStalePlan(err)) throw err;
      this.statementNames.set(text, '');
      if (inTransaction) throw err;
      return send({ text, values });
    }
  }

  private statementName(text: string): string | undefined {
    let name = this.statementNames.get(text);
    if (name === undefined && this.statementNames.size < this.maxPrepared) {
      name = `albergue_${this.statementNames.size + 1}`;
      this.statementNames.set(text, name);
    }
    return name === '' ? undefined : name;
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const committed: (() => void)[] = [];
    let broken = false;
    let value: T;
    // The pool stops listening for a client's errors while it is checked out, and pg emits one when
    // the server ends the session between statements (idle_in_transaction_session_timeout, a
    // restart): without a listener that would crash the process. The next statement fails instead.
    const onError = (err: Error): void => {
      if (!broken) this.options.logger?.warn({ err }, 'postgres connection lost during a transaction');
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const tx: SqlTransaction = {
        query: async <R extends Row = Row>(sql: string, params: readonly unknown[] = []) => {
          const r = await this.run<R>((q) => client.query<R>(q), sql, params, true);
          return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
        },
        exec: async (sql: string) => {
          await client.query(sql);
        },
        afterCommit: (f) => {
          committed.push(f);
        },
      };
      try {
        value = await fn(tx);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: destroy it instead of reusing it
      // (a broken one keeps the listener: it may report its end once more).
      if (!broken) client.off('error', onError);
      client.release(broken);
    }
    for (const f of committed) f();
    return value;
  }

  async listen(channel: string, onNotify: Listener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(onNotify);
    const client = await this.ensureListenClient();
    if (first) await client.query(`LISTEN ${quoteIdent(channel)}`);
    return async () => {
      set.delete(onNotify);
      if (set.size > 0 || this.listeners.get(channel) !== set) return;
      this.listeners.delete(channel);
      if (this.listenClient) await this.listenClient.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const c = this.listenClient;
    this.listenClient = undefined;
    if (c) await c.end().catch(() => undefined);
    await this.pool.end();
  }

  private ensureListenClient(): Promise<pg.Client> {
    if (this.listenClient) return Promise.resolve(this.listenClient);
    this.listenConnecting ??= this.connectListenClient().finally(() => {
      this.listenConnecting = undefined;
    });
    return this.listenConnecting;
  }

  private async connectListenClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (n) => {
      for (const l of this.listeners.get(n.channel) ?? []) l(n.payload ?? '');
    });
    const onBroken = (err?: Error) => {
      if (this.listenClient !== client) return;
      this.listenClient = undefined;
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      if (this.closed) return;
      this.options.logger?.warn({ err }, 'LISTEN connection lost; reconnecting');
      this.scheduleRelisten();
    };
    client.on('error', onBroken);
    client.on('end', () => onBroken());
    await client.connect();
    this.listenClient = client;
    for (const channel of this.listeners.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    return client;
  }

  private scheduleRelisten(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.closed || this.listeners.size === 0) return;
      this.ensureListenClient().catch((err: unknown) => {
        this.options.logger?.warn({ err }, 'LISTEN reconnect failed; retrying');
        this.scheduleRelisten();
      });
    }, this.options.listenRetryMs ?? 1000);
    this.retryTimer.unref();
  }
}

/** Double-quotes an identifier (channel names are identifiers in LISTEN). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
