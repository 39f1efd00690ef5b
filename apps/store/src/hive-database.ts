import type { Database } from '@hive/schema'
import { type OpenDatabaseOptions, openDatabase, type SqliteDatabase } from '@hive/sqlite'

/** `application_id` of Hive databases: "HIVE" in ASCII. */
export const HIVE_APPLICATION_ID = 0x48495645

/** Opens a Hive database file with Hive's application id (other SQLite files are refused). */
export function openHiveDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase<Database> {
  return openDatabase<Database>(path, { applicationId: HIVE_APPLICATION_ID, ...options })
}
