import { existsSync } from 'node:fs'
import type { Database } from '@hive/schema'
import type { SqliteDatabase } from '@hive/sqlite'
import { openHiveDatabase } from '../hive-database.js'
import type { ProgressListener } from '../progress.js'
import { failureOf, OperationLog } from './operation-log.js'

/**
 * Runs `work` as an operation of the store's {@link OperationLog} when it has one (a full
 * store), or simply runs it (a narrower store, as some functions accept).
 */
export function trackOperation<T>(
  store: object,
  kind: string,
  work: (progress: ProgressListener) => Promise<T>,
  figures: (result: T) => unknown,
  options: { recordIf?: (result: T) => boolean } = {},
): Promise<T> {
  const operations = (store as { operations?: OperationLog }).operations
  return operations ? operations.track(kind, work, figures, options) : work(() => {})
}

/**
 * Runs `work` as an operation recorded in a data directory's database, for operations that do
 * not open a store (backup, migrate, restore). With `atEnd`, nothing is written while it runs
 * and the record is written when it ends (the database may not have the table before a
 * migration, or is replaced by a restore). When the database cannot be opened, `work` simply runs.
 */
export async function trackOnDataDir<T>(
  databasePath: string,
  kind: string,
  work: (progress: ProgressListener) => Promise<T>,
  figures: (result: T) => unknown,
  options: {
    atEnd?: boolean
    /** With `atEnd`: whether a failure is recorded (not a refusal that promised to change nothing). */
    recordFailure?: (error: unknown) => boolean
  } = {},
): Promise<T> {
  if (options.atEnd) {
    // No connection is held while it runs: the work may replace or move the database file.
    const startedAt = Date.now()
    try {
      const result = await work(() => {})
      withDatabase(databasePath, (log) => log.record(kind, { startedAt, result: figures(result) }))
      return result
    } catch (error) {
      const failure = failureOf(error)
      if (options.recordFailure?.(error) ?? true)
        withDatabase(databasePath, (log) => log.record(kind, { startedAt, error: failure }))
      throw error
    }
  }
  let database: SqliteDatabase<Database> | undefined
  try {
    if (existsSync(databasePath)) database = openHiveDatabase(databasePath, { create: false })
  } catch {
    database = undefined
  }
  if (!database) return work(() => {})
  try {
    return await new OperationLog({ database }).track(kind, work, figures)
  } finally {
    database.close()
  }
}

function withDatabase(path: string, use: (log: OperationLog) => void): void {
  let database: SqliteDatabase<Database> | undefined
  try {
    if (!existsSync(path)) return
    database = openHiveDatabase(path, { create: false })
    use(new OperationLog({ database }))
  } catch {
    // Best effort: the operation's outcome stands without its record.
  } finally {
    database?.close()
  }
}
