import { type ErrorCode, HiveStorageError, isHiveStorageError } from '@hive/errors'

/** SQLite result codes (primary part, as better-sqlite3 names them) and what they mean to callers. */
const CODES: ReadonlyArray<readonly [prefix: string, code: ErrorCode, meaning: string]> = [
  ['SQLITE_BUSY', 'DATABASE_BUSY', 'the database stayed locked by another connection past the busy timeout'],
  ['SQLITE_LOCKED', 'DATABASE_BUSY', 'a table is locked by another statement of this connection'],
  ['SQLITE_CORRUPT', 'DATABASE_CORRUPT', 'the database file is corrupt'],
  ['SQLITE_NOTADB', 'NOT_A_DATABASE', 'the file is not a SQLite database'],
  ['SQLITE_READONLY', 'DATABASE_READONLY', 'the database is read-only'],
  ['SQLITE_CANTOPEN', 'DATA_DIR_UNUSABLE', 'the database file cannot be opened'],
  ['SQLITE_FULL', 'DISK_FULL', 'the disk is full (or the database reached its size limit)'],
  ['SQLITE_CONSTRAINT_UNIQUE', 'CONFLICT', 'a row with the same key exists'],
  ['SQLITE_CONSTRAINT_PRIMARYKEY', 'CONFLICT', 'a row with the same key exists'],
  [
    'SQLITE_CONSTRAINT_FOREIGNKEY',
    'CONFLICT',
    'a referenced row does not exist, or rows still refer to this one',
  ],
  ['SQLITE_CONSTRAINT', 'INVALID_INPUT', 'a value breaks a constraint of the schema'],
]

/**
 * Like {@link toHiveStorageError} for errors of the driver (SQLite's, or a closed connection);
 * anything else (thrown by the caller's own code inside a transaction, say) passes as it is.
 */
export function fromDriver(error: unknown, context: string): unknown {
  const code = (error as { code?: unknown })?.code
  const driver =
    (typeof code === 'string' && code.startsWith('SQLITE_')) ||
    (error instanceof TypeError && /database connection is not open/.test(error.message))
  return driver ? toHiveStorageError(error, context) : error
}

/**
 * Explains a driver error as a {@link HiveStorageError} with a code callers can act on; the
 * driver error stays as `cause`. `context` says what was being done (`"opening /x/hive.db"`).
 * Errors that already are Hive storage errors pass through unchanged.
 */
export function toHiveStorageError(error: unknown, context: string, value?: unknown): HiveStorageError {
  if (isHiveStorageError(error)) return error as HiveStorageError
  const driverCode =
    typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : ''
  const message = error instanceof Error ? error.message : String(error)
  const known = CODES.find(([prefix]) => driverCode === prefix || driverCode.startsWith(`${prefix}_`))
  if (known) {
    const [, code, meaning] = known
    return new HiveStorageError(code, `${context}: ${meaning} (${message})`, { cause: error, value })
  }
  if (error instanceof TypeError && /database connection is not open/.test(message)) {
    return new HiveStorageError('DATABASE_ERROR', `${context}: the database is closed`, {
      cause: error,
      value,
    })
  }
  return new HiveStorageError('DATABASE_ERROR', `${context}: ${message}`, { cause: error, value })
}
