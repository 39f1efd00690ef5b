/**
 * Every error code Hive storage throws or reports. Codes are the stable contract: messages may
 * be reworded, codes are not. The CLI maps them to exit codes.
 */
export type ErrorCode =
  /** Input failed validation; `issues` says which fields and why. */
  | 'INVALID_INPUT'
  /** An id or name that should exist does not. */
  | 'NOT_FOUND'
  /** The operation conflicts with the current state (duplicate, forbidden transition…). */
  | 'CONFLICT'
  /** The data directory is missing, not a directory, or cannot be written. */
  | 'DATA_DIR_UNUSABLE'
  /** The file is not a SQLite database (or is encrypted, or its header is destroyed). */
  | 'NOT_A_DATABASE'
  /** The file is a SQLite database of another application. */
  | 'NOT_A_HIVE_DATABASE'
  /** SQLite reported corruption, or an integrity check found problems. */
  | 'DATABASE_CORRUPT'
  /** The database was migrated by newer code than this one. */
  | 'DATABASE_TOO_NEW'
  /** The database has migrations pending and was opened without migrating (`hive migrate`). */
  | 'DATABASE_TOO_OLD'
  /** Another connection held the lock longer than the busy timeout. */
  | 'DATABASE_BUSY'
  /** The database (or the file system under it) is read-only. */
  | 'DATABASE_READONLY'
  /** Any other SQLite failure; `cause` holds the driver error. */
  | 'DATABASE_ERROR'
  /** A migration failed; the database stays at the version before it. */
  | 'MIGRATION_FAILED'
  /** An applied migration's source changed since it was applied. */
  | 'MIGRATION_MODIFIED'
  /** An applied migration no longer exists in the code. */
  | 'MIGRATION_MISSING'
  /** A migration or snapshot name that does not exist. */
  | 'UNKNOWN_MIGRATION'
  /** A snapshot is missing or unusable. */
  | 'SNAPSHOT_FAILED'
  /** A blob's content does not match its name (hash), or its file is truncated or malformed. */
  | 'BLOB_CORRUPT'
  /** The disk (or quota) is full; nothing partial was left behind. */
  | 'DISK_FULL'
  /** Reading or writing a file failed; `cause` holds the system error. */
  | 'IO_ERROR'
  /**
   * An export/import bundle is malformed, was changed since it was written, holds unsafe entries
   * (absolute paths, `..`, links, devices, oversized files) or is of an unknown format or a newer
   * schema; nothing was imported.
   */
  | 'BUNDLE_INVALID'
  /** The caller's input (a stream, an iterable) failed while it was being read. */
  | 'INPUT_FAILED'
  /** The operation was cancelled (AbortSignal). */
  | 'ABORTED'
  /** A bug: an invariant of Hive storage itself did not hold. */
  | 'INTERNAL'

/** One problem found while validating input. */
export interface ValidationIssue {
  /** Where in the input, e.g. `['metadata', 'owner']`; empty for the input itself. */
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

export interface HiveStorageErrorOptions {
  /** The offending value (an id, a path, a name), echoed back to the caller. */
  readonly value?: unknown
  /** The lower-level error this one explains. */
  readonly cause?: unknown
  /** For `INVALID_INPUT`: every problem found, not just the first. */
  readonly issues?: ReadonlyArray<ValidationIssue>
}

/**
 * The one error type of Hive storage: a stable {@link ErrorCode}, a one-line message that says
 * what was wrong, the offending value, and the underlying cause.
 *
 * @example
 * ```ts
 * try {
 *   await store.cells.get('cell_nope')
 * } catch (error) {
 *   if (isHiveStorageError(error, 'NOT_FOUND')) console.log(error.value) // 'cell_nope'
 * }
 * ```
 */
export class HiveStorageError extends Error {
  override readonly name = 'HiveStorageError'
  readonly code: ErrorCode
  readonly value: unknown
  readonly issues: ReadonlyArray<ValidationIssue>

  constructor(code: ErrorCode, message: string, options: HiveStorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.value = options.value
    this.issues = options.issues ?? []
  }

  /** A plain object for `--json` output and logs (the cause is summarised, not serialised). */
  toJSON(): { code: ErrorCode; message: string; value?: unknown; issues?: ValidationIssue[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.value === undefined ? {} : { value: this.value }),
      ...(this.issues.length === 0 ? {} : { issues: [...this.issues] }),
    }
  }
}

/**
 * Whether `error` is a {@link HiveStorageError}, optionally with one of the given codes.
 * Works across duplicated copies of this package, where `instanceof` would not.
 */
export function isHiveStorageError(error: unknown, ...codes: ErrorCode[]): error is HiveStorageError {
  if (!(error instanceof Error) || error.name !== 'HiveStorageError' || !('code' in error)) return false
  return codes.length === 0 || codes.includes((error as HiveStorageError).code)
}
