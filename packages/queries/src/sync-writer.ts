import type { CompiledQuery, QueryResult } from 'kysely'

/**
 * A database that can run a whole write transaction synchronously (SQLite through
 * `SqliteDatabase` of `@hive/sqlite` can). Hot write paths use it when given: one event-loop
 * turn for the transaction instead of one per query. Without it, they use Kysely transactions.
 */
export interface SyncWriter {
  writeTransaction<T>(fn: (execute: <R>(query: CompiledQuery<R>) => QueryResult<R>) => T): Promise<T>
}

/** The steps of a write, as compiled queries; each yield gets its query's result back. */
export type WriteSteps<T> = Generator<CompiledQuery, T, QueryResult<unknown>>

/** Runs write steps in one transaction: synchronously on a {@link SyncWriter}, else through Kysely. */
export async function runWrite<T>(
  steps: () => WriteSteps<T>,
  writer: SyncWriter | undefined,
  kysely: {
    transaction(): {
      execute<R>(
        fn: (trx: { executeQuery<Q>(q: CompiledQuery<Q>): Promise<QueryResult<Q>> }) => Promise<R>,
      ): Promise<R>
    }
  },
): Promise<T> {
  if (writer) {
    return writer.writeTransaction((execute) => {
      const run = steps()
      let next = run.next()
      while (!next.done) next = run.next(execute(next.value))
      return next.value
    })
  }
  return kysely.transaction().execute(async (trx) => {
    const run = steps()
    let next = run.next()
    while (!next.done) next = run.next(await trx.executeQuery(next.value))
    return next.value
  })
}
