import type { Database } from '@hive/schema'
import type { SqliteDatabase } from '@hive/sqlite'

/** The raw JSON text of a setting (`settings` table), if set. */
export function readSetting(
  database: Pick<SqliteDatabase<Database>, 'sqlite'>,
  key: string,
): string | undefined {
  return database.sqlite.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as
    | string
    | undefined
}

/** Sets a setting to `value` (stored as JSON); callers validate it first. */
export function writeSetting(
  database: Pick<SqliteDatabase<Database>, 'sqlite'>,
  key: string,
  value: unknown,
  now: number,
): void {
  database.sqlite
    .prepare(
      'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    )
    .run(key, JSON.stringify(value), now)
}
