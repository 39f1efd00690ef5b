import { HiveStorageError } from '@hive/errors'
import type { SyncWriter } from '@hive/queries'
import type { Database } from '@hive/schema'
import { type SqliteDatabase, toHiveStorageError } from '@hive/sqlite'
import type { CompiledQuery, QueryResult, Transaction } from 'kysely'

/** One open write transaction, for work that spans several services' writes. */
export interface WriteScope {
  /** Kysely on the open transaction. */
  readonly trx: Transaction<Database>
  /**
   * A {@link SyncWriter} whose "transactions" run inside the open one: services that write
   * through a writer (the transcript service's appends) join this transaction instead of
   * starting their own.
   */
  readonly writer: SyncWriter
}

type Statement = ReturnType<SqliteDatabase['sqlite']['prepare']>

/**
 * Runs `fn` in one write transaction (`BEGIN IMMEDIATE`) on the store's connection: everything it
 * writes, through `trx` or through services given `writer`, commits together or not at all. The
 * transaction is a Kysely one, so it holds the connection's lock across `fn`'s awaits (blob
 * writes) and other users of the connection queue behind it rather than landing inside it.
 */
export async function inWriteScope<T>(
  database: SqliteDatabase<Database>,
  fn: (scope: WriteScope) => Promise<T>,
): Promise<T> {
  return database.db.transaction().execute(async (trx) => {
    const statements = new Map<string, Statement>()
    let open = true
    const execute = <R>(query: CompiledQuery<R>): QueryResult<R> => {
      if (!open) throw new HiveStorageError('INTERNAL', 'a write scope was used after its transaction ended')
      try {
        let statement = statements.get(query.sql)
        if (!statement) {
          statement = database.sqlite.prepare(query.sql)
          statements.set(query.sql, statement)
        }
        const parameters = query.parameters as unknown[]
        if (statement.reader) return { rows: statement.all(parameters) as R[] }
        const { changes, lastInsertRowid } = statement.run(parameters)
        return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }
      } catch (error) {
        throw toHiveStorageError(error, 'query failed', query.sql)
      }
    }
    const writer: SyncWriter = {
      writeTransaction: async (body) => body(execute),
    }
    try {
      return await fn({ trx, writer })
    } finally {
      open = false
      statements.clear()
    }
  })
}
