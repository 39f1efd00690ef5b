import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely'
import { toHiveStorageError } from './sqlite-error.js'
import type { StatementCache } from './statement-cache.js'

/**
 * Kysely's SQLite dialect, changed in three ways: statements come from a {@link StatementCache}
 * instead of being prepared for every query; transactions begin with `BEGIN IMMEDIATE`, so a
 * writer waits for the lock (busy_timeout) instead of failing when it upgrades a read; and
 * driver errors become typed {@link toHiveStorageError | HiveStorageError}s.
 * The connection belongs to its `SqliteDatabase`: destroying a Kysely instance leaves it open.
 */
export class HiveSqliteDialect implements Dialect {
  readonly #statements: StatementCache
  // One SQLite connection, so one lock: every Kysely instance made from this dialect queues on
  // it, and a transaction on one instance is never interleaved with queries of another. Each
  // instance still gets a connection object of its own, because Kysely decorates that object
  // (with its query logging, for one) and must not decorate another instance's.
  readonly #lock: ConnectionLock

  constructor(statements: StatementCache, lock: ConnectionLock = new ConnectionLock()) {
    this.#statements = statements
    this.#lock = lock
  }

  createDriver(): Driver {
    return new HiveSqliteDriver(new HiveSqliteConnection(this.#statements), this.#lock)
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter()
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface takes Kysely<any>.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db)
  }
}

/** Queues users of the one connection: whoever holds it has it alone until release. */
export class ConnectionLock {
  #locked: Promise<void> | undefined
  #unlock: (() => void) | undefined

  async acquire(): Promise<void> {
    while (this.#locked) await this.#locked
    this.take()
  }

  /** Takes the lock now if it is free; false if someone holds it. */
  tryAcquire(): boolean {
    if (this.#locked) return false
    this.take()
    return true
  }

  private take(): void {
    this.#locked = new Promise((resolve) => {
      this.#unlock = resolve
    })
  }

  release(): void {
    const unlock = this.#unlock
    this.#locked = undefined
    this.#unlock = undefined
    unlock?.()
  }
}

class HiveSqliteDriver implements Driver {
  readonly #connection: HiveSqliteConnection
  readonly #lock: ConnectionLock

  constructor(connection: HiveSqliteConnection, lock: ConnectionLock) {
    this.#connection = connection
    this.#lock = lock
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock.acquire()
    return this.#connection
  }

  async releaseConnection(): Promise<void> {
    this.#lock.release()
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name.replaceAll('"', '""')}"`))
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to "${name.replaceAll('"', '""')}"`))
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release "${name.replaceAll('"', '""')}"`))
  }

  async destroy(): Promise<void> {}
}

/** Runs a compiled query synchronously through the statement cache (for synchronous transactions). */
export function executeCompiled<R>(statements: StatementCache, compiledQuery: CompiledQuery): QueryResult<R> {
  try {
    const statement = statements.get(compiledQuery.sql)
    const parameters = compiledQuery.parameters as unknown[]
    if (statement.reader) return { rows: statement.all(parameters) as R[] }
    const { changes, lastInsertRowid } = statement.run(parameters)
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }
  } catch (error) {
    throw toHiveStorageError(error, 'query failed', compiledQuery.sql)
  }
}

class HiveSqliteConnection implements DatabaseConnection {
  readonly #statements: StatementCache

  constructor(statements: StatementCache) {
    this.#statements = statements
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const statement = this.#statements.get(compiledQuery.sql)
      const parameters = compiledQuery.parameters as unknown[]
      if (statement.reader) return Promise.resolve({ rows: statement.all(parameters) as R[] })
      const { changes, lastInsertRowid } = statement.run(parameters)
      return Promise.resolve({
        numAffectedRows: BigInt(changes),
        insertId: BigInt(lastInsertRowid),
        rows: [],
      })
    } catch (error) {
      return Promise.reject(toHiveStorageError(error, 'query failed', compiledQuery.sql))
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) {
      throw toHiveStorageError(
        new Error('only select queries can be streamed'),
        'stream failed',
        compiledQuery.sql,
      )
    }
    let rows: IterableIterator<unknown>
    try {
      rows = this.#statements.get(compiledQuery.sql).iterate(compiledQuery.parameters as unknown[])
    } catch (error) {
      throw toHiveStorageError(error, 'query failed', compiledQuery.sql)
    }
    try {
      for (;;) {
        let next: IteratorResult<unknown>
        try {
          next = rows.next()
        } catch (error) {
          throw toHiveStorageError(error, 'query failed', compiledQuery.sql)
        }
        if (next.done) return
        yield { rows: [next.value as R] }
      }
    } finally {
      // A consumer that stops early must not leave the statement busy.
      rows.return?.()
    }
  }
}
