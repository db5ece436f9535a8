/**
 * The database port of a service: what the outbox, its relay, the inbox and command handlers need
 * from Postgres. Two adapters: `PgDatabase` (a `pg` Pool, production) and `PgliteDatabase`
 * (embedded Postgres in WASM, one session per process).
 *
 * SQL is Postgres SQL with `$1…$n` parameters. Results: `rows` as plain objects (int8 columns may
 * arrive as strings: cast in SQL where a number is wanted), `rowCount` = rows returned or affected.
 */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  readonly rows: R[];
  readonly rowCount: number;
}

/** Runs statements: the database itself (each statement its own transaction) or an open transaction. */
export interface SqlExecutor {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** An open transaction. */
export interface SqlTransaction extends SqlExecutor {
  /** Runs `fn` after this transaction committed (never after a rollback); `fn` must not throw. */
  afterCommit(fn: () => void): void;
}

export interface SqlDatabase extends SqlExecutor {
  /** `pg` or `pglite`: PGlite is one session, so run one relay on it (see README). */
  readonly driver: 'pg' | 'pglite';
  /**
   * Runs `fn` in one transaction (READ COMMITTED): committed when `fn` resolves, rolled back when it
   * throws (the error is rethrown). Use only `tx` inside `fn`; publish nothing from inside it.
   */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` for every NOTIFY on `channel` (at most once per notifying transaction and
   * payload; none are queued while the listener is down, so pair it with polling). Resolves once
   * listening; the returned function stops it.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Closes every connection; pending work is awaited, later calls fail. */
  close(): Promise<void>;
}
