// A request-scoped unit of work: while an HTTP command runs inside one transaction opened by the HTTP
// layer (see idempotency.ts), everything the command does through the service's database joins that
// transaction — its own `transaction()` calls become savepoints, plain queries run on it — so the
// command's effects, its outbox rows and its stored response commit together or not at all.
// Outside such a request the database behaves exactly like the one it wraps.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { QueryResult, Row, SqlDatabase, SqlTransaction } from '@albergue/outbox';

interface Scope {
  readonly tx: SqlTransaction;
  /** False once the transaction ended: late async work started inside the request uses the database again. */
  open: boolean;
  /** Nested transactions run one at a time (savepoints do not interleave). */
  queue: Promise<unknown>;
  savepoints: number;
}

const scopes = new AsyncLocalStorage<Scope>();
/** Set inside a savepoint: a transaction opened from there nests directly (queueing it would wait on itself). */
const insideSavepoint = new AsyncLocalStorage<boolean>();

function current(): Scope | undefined {
  const s = scopes.getStore();
  return s?.open ? s : undefined;
}

/** An ambient transaction for the work run through it, until closed. */
export interface TransactionScope {
  /** Runs `fn` (and async work it starts) with the transaction as the ambient one. */
  run<T>(fn: () => T): T;
  /** Ends the scope: later calls from that work use the database again (call it when the transaction ends). */
  close(): void;
}

export function transactionScope(tx: SqlTransaction): TransactionScope {
  const scope: Scope = { tx, open: true, queue: Promise.resolve(), savepoints: 0 };
  return {
    run: (fn) => scopes.run(scope, fn),
    close: () => {
      scope.open = false;
    },
  };
}

/** A SqlDatabase that joins the ambient request transaction when there is one. */
export class UnitOfWorkDatabase implements SqlDatabase {
  constructor(readonly inner: SqlDatabase) {}

  get driver(): SqlDatabase['driver'] {
    return this.inner.driver;
  }

  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const s = current();
    return s ? s.tx.query<R>(sql, params) : this.inner.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    const s = current();
    return s ? s.tx.exec(sql) : this.inner.exec(sql);
  }

  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const s = current();
    if (!s) return this.inner.transaction(fn);
    if (insideSavepoint.getStore()) return nested(s, fn);
    const run = () => insideSavepoint.run(true, () => nested(s, fn));
    const result = s.queue.then(run, run);
    s.queue = result.catch(() => undefined);
    return result;
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.inner.listen(channel, onNotify);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** `fn` in a savepoint of the ambient transaction: its writes undo on a throw, like a transaction's. */
async function nested<T>(s: Scope, fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
  const name = `uow_${++s.savepoints}`;
  const later: (() => void)[] = [];
  const view: SqlTransaction = {
    query: (sql, params) => s.tx.query(sql, params),
    exec: (sql) => s.tx.exec(sql),
    afterCommit: (f) => {
      later.push(f);
    },
  };
  await s.tx.query(`SAVEPOINT ${name}`);
  let value: T;
  try {
    value = await fn(view);
  } catch (err) {
    await s.tx.query(`ROLLBACK TO SAVEPOINT ${name}`);
    await s.tx.query(`RELEASE SAVEPOINT ${name}`);
    throw err;
  }
  await s.tx.query(`RELEASE SAVEPOINT ${name}`);
  // Runs only if the outer transaction commits.
  for (const f of later) s.tx.afterCommit(f);
  return value;
}
