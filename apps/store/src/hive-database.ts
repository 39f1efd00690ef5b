import { HiveStorageError } from '@hive/errors'
import { HISTORY_TABLE } from '@hive/migrations'
import type { Database } from '@hive/schema'
import { type OpenDatabaseOptions, openDatabase, type SqliteDatabase } from '@hive/sqlite'

/** `application_id` of Hive databases: "HIVE" in ASCII. */
export const HIVE_APPLICATION_ID = 0x48495645

/**
 * Opens a Hive database file. Another application's SQLite file (its application id, or tables
 * without Hive's migration history) is refused before anything is written to it.
 */
export function openHiveDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase<Database> {
  return openDatabase<Database>(path, {
    applicationId: HIVE_APPLICATION_ID,
    accept: ({ applicationId, tables }) => {
      if (applicationId === HIVE_APPLICATION_ID || tables.length === 0 || tables.includes(HISTORY_TABLE))
        return
      throw new HiveStorageError(
        'NOT_A_HIVE_DATABASE',
        `${path} is not a Hive database: it has ${tables.length} table(s) but no Hive migration history`,
        { value: path },
      )
    },
    ...options,
  })
}
