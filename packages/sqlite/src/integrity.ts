import type BetterSqlite3 from 'better-sqlite3'
import { toHiveStorageError } from './sqlite-error.js'

/** What `quick_check` or `integrity_check` found. */
export interface IntegrityResult {
  readonly ok: boolean
  /** SQLite's own descriptions of each problem, at most `maxErrors` of them. */
  readonly problems: readonly string[]
}

/** A row that refers to a parent row that does not exist. */
export interface ForeignKeyViolation {
  readonly table: string
  /** The child row's rowid (null for WITHOUT ROWID tables). */
  readonly rowid: number | null
  readonly parent: string
  /** Which foreign key of the table (index into `PRAGMA foreign_key_list`). */
  readonly foreignKeyIndex: number
}

export interface ForeignKeyResult {
  readonly ok: boolean
  readonly violations: readonly ForeignKeyViolation[]
}

type Pragmas = Pick<BetterSqlite3.Database, 'pragma'>

function check(
  sqlite: Pragmas,
  pragma: 'quick_check' | 'integrity_check',
  maxErrors: number,
): IntegrityResult {
  if (!Number.isInteger(maxErrors) || maxErrors < 1)
    throw new RangeError('maxErrors must be a positive integer')
  try {
    const rows = sqlite.pragma(`${pragma}(${maxErrors})`) as Array<Record<string, string>>
    const problems = rows.map((row) => Object.values(row)[0] ?? '').filter((line) => line !== 'ok')
    return { ok: problems.length === 0, problems }
  } catch (error) {
    // SQLite stops at some damage with an error instead of rows: that is a finding too.
    const hive = toHiveStorageError(error, pragma)
    if (hive.code === 'DATABASE_CORRUPT' || hive.code === 'NOT_A_DATABASE')
      return { ok: false, problems: [hive.message] }
    throw hive
  }
}

/**
 * `PRAGMA quick_check`: the fast structural check (no index-content verification), O(N).
 *
 * @example
 * ```ts
 * const { ok, problems } = quickCheck(database.sqlite)
 * ```
 */
export function quickCheck(sqlite: Pragmas, options: { maxErrors?: number } = {}): IntegrityResult {
  return check(sqlite, 'quick_check', options.maxErrors ?? 100)
}

/** `PRAGMA integrity_check`: {@link quickCheck} plus every index checked against its table. */
export function integrityCheck(sqlite: Pragmas, options: { maxErrors?: number } = {}): IntegrityResult {
  return check(sqlite, 'integrity_check', options.maxErrors ?? 100)
}

/** `PRAGMA foreign_key_check`: every row whose parent row is missing. */
export function foreignKeyCheck(sqlite: Pragmas): ForeignKeyResult {
  try {
    const rows = sqlite.pragma('foreign_key_check') as Array<{
      table: string
      rowid: number | null
      parent: string
      fkid: number
    }>
    const violations = rows.map((row) => ({
      table: row.table,
      rowid: row.rowid,
      parent: row.parent,
      foreignKeyIndex: row.fkid,
    }))
    return { ok: violations.length === 0, violations }
  } catch (error) {
    throw toHiveStorageError(error, 'foreign_key_check')
  }
}
