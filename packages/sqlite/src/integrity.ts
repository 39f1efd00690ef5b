import { HiveStorageError } from '@hive/errors'
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

/** @internal The SQL of a check (the pool runs it in a worker). */
export function checkSql(pragma: 'quick_check' | 'integrity_check', maxErrors: number): string {
  if (!Number.isInteger(maxErrors) || maxErrors < 1 || maxErrors > 1_000_000)
    throw new HiveStorageError(
      'INVALID_INPUT',
      `maxErrors must be an integer from 1 to 1000000, not ${String(maxErrors)}`,
      { value: maxErrors },
    )
  return `PRAGMA ${pragma}(${maxErrors})`
}

/** @internal What a check's rows, or its error, say. */
export function checkOutcome(
  pragma: 'quick_check' | 'integrity_check',
  outcome: { rows: ReadonlyArray<Record<string, unknown>> } | { error: unknown },
): IntegrityResult {
  if ('rows' in outcome) {
    const problems = outcome.rows
      .map((row) => String(Object.values(row)[0] ?? ''))
      .filter((line) => line !== 'ok')
    return { ok: problems.length === 0, problems }
  }
  // SQLite stops at some damage with an error instead of rows: that is a finding too.
  const hive = toHiveStorageError(outcome.error, pragma)
  if (hive.code === 'DATABASE_CORRUPT' || hive.code === 'NOT_A_DATABASE')
    return { ok: false, problems: [hive.message] }
  throw hive
}

/** @internal `PRAGMA foreign_key_check`'s rows as violations. */
export function foreignKeyOutcome(rows: ReadonlyArray<Record<string, unknown>>): ForeignKeyResult {
  const violations = rows.map((row) => ({
    table: row.table as string,
    rowid: row.rowid as number | null,
    parent: row.parent as string,
    foreignKeyIndex: row.fkid as number,
  }))
  return { ok: violations.length === 0, violations }
}

function check(
  sqlite: Pragmas,
  pragma: 'quick_check' | 'integrity_check',
  maxErrors: number,
): IntegrityResult {
  const statement = checkSql(pragma, maxErrors)
  let rows: Array<Record<string, unknown>>
  try {
    rows = sqlite.pragma(statement.slice('PRAGMA '.length)) as Array<Record<string, unknown>>
  } catch (error) {
    return checkOutcome(pragma, { error })
  }
  return checkOutcome(pragma, { rows })
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
  let rows: Array<Record<string, unknown>>
  try {
    rows = sqlite.pragma('foreign_key_check') as Array<Record<string, unknown>>
  } catch (error) {
    throw toHiveStorageError(error, 'foreign_key_check')
  }
  return foreignKeyOutcome(rows)
}
