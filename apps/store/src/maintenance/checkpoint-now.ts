import type { CheckpointResult, SqliteDatabase } from '@hive/sqlite'

/**
 * A WAL checkpoint that never waits: with the busy timeout at zero for its duration, a
 * `truncate` that readers or writers stand in the way of does what it can and says `busy`,
 * instead of blocking the event loop (better-sqlite3 is synchronous) and other processes'
 * writers for up to the busy timeout.
 */
export function checkpointNow(
  database: Pick<SqliteDatabase, 'sqlite' | 'checkpoint'>,
  mode: 'passive' | 'truncate',
): CheckpointResult {
  const timeout = Number(database.sqlite.pragma('busy_timeout', { simple: true }))
  database.sqlite.pragma('busy_timeout = 0')
  try {
    return database.checkpoint(mode)
  } finally {
    database.sqlite.pragma(`busy_timeout = ${timeout}`)
  }
}
