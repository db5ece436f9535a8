import { PGlite } from '@electric-sql/pglite';
import type { QueryResult, Row, SqlDatabase, SqlTransaction } from './port.js';

/**
 * `SqlDatabase` on PGlite (Postgres in WASM), persisted under `dataDir` (in memory when omitted).
 *
 * PGlite is one backend session: statements and transactions are serialised, `FOR UPDATE SKIP
 * LOCKED` never skips, and NOTIFY reaches listeners of this instance only. Open one instance per data
 * directory and process, and run one relay on it.
 */
export class PgliteDatabase implements SqlDatabase {
  readonly driver = 'pglite' as const;

  private constructor(private readonly pg: PGlite) {}

  static async open(dataDir?: string): Promise<PgliteDatabase> {
    return new PgliteDatabase(await PGlite.create(dataDir ?? 'memory://'));
  }

  async query<R extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const r = await this.pg.query<R>(sql, params as unknown[]);
    return { rows: r.rows, rowCount: Math.max(r.rows.length, r.affectedRows ?? 0) };
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const committed: (() => void)[] = [];
    const value = await this.pg.transaction(async (t) => {
      const tx: SqlTransaction = {
        afterCommit: (f) => {
          committed.push(f);
        },
        query: async <R extends Row = Row>(sql: string, params: readonly unknown[] = []) => {
          const r = await t.query<R>(sql, params as unknown[]);
          return { rows: r.rows, rowCount: Math.max(r.rows.length, r.affectedRows ?? 0) };
        },
        exec: async (sql: string) => {
          await t.exec(sql);
        },
      };
      return fn(tx);
    });
    for (const f of committed) f();
    return value;
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.pg.listen(channel, onNotify);
  }

  async close(): Promise<void> {
    await this.pg.close();
  }
}
