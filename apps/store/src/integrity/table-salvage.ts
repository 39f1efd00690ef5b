import type { SqliteDatabase } from '@hive/sqlite'

type Sqlite = SqliteDatabase['sqlite']
type Row = unknown[]

/** What was read of one table of a damaged database, and what of it the new database took. */
export interface TableSalvage {
  readonly table: string
  /** Whether the damaged database's schema still lists the table. */
  readonly found: boolean
  /** Rows read and written to the new database. */
  readonly salvaged: number
  /** Rows read but refused by the new database (a value its schema does not accept). */
  readonly rejected: number
  /**
   * Rows the damaged database had, as counted through whichever of its indexes (or the table
   * itself) could still be read completely; null when none could.
   */
  readonly expected: number | null
  /** `expected` minus the rows read: rows on pages that could not be read. Null when unknown. */
  readonly lost: number | null
  /** Key ranges that could not be read (rowids, or keys of tables without rowid), inclusive. */
  readonly unreadable: ReadonlyArray<{ readonly from: string; readonly to: string | null }>
  /** The first errors met, for the report. */
  readonly errors: readonly string[]
}

const MIN = -(2n ** 63n)
const MAX = 2n ** 63n - 1n
const MAX_ERRORS = 5

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** Whether an error is SQLite's (damage, I/O…), as opposed to a bug of the caller. */
function isDriverError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('SQLITE_')
}

/**
 * Copies every row of `table` that can still be read from the damaged database attached to
 * `source` as `schema` into `target` (a new one with the current schema), column by column
 * where both have the column.
 * A full scan goes first; where it stops on damage, the scan resumes past the unreadable pages:
 * the next readable key is found by seeking further and further ahead (doubling), then back by
 * bisection, so that only the rows on damaged pages are lost. Runs in the caller's transaction.
 */
export function salvageTable(source: Sqlite, schema: string, target: Sqlite, table: string): TableSalvage {
  const errors: string[] = []
  const note = (error: unknown) => {
    if (errors.length < MAX_ERRORS) errors.push((error as Error)?.message ?? String(error))
  }
  let sourceInfo: Array<{ name: string; pk: number }>
  let sourceSql: string | undefined
  try {
    sourceSql = source
      .prepare(`SELECT sql FROM ${quote(schema)}.sqlite_master WHERE type = 'table' AND name = ?`)
      .pluck()
      .get(table) as string | undefined
    sourceInfo = sourceSql
      ? (source.prepare('SELECT name, pk FROM pragma_table_info(?, ?)').all(table, schema) as Array<{
          name: string
          pk: number
        }>)
      : []
  } catch (error) {
    if (!isDriverError(error)) throw error
    note(error)
    sourceInfo = []
  }
  if (sourceInfo.length === 0) {
    return {
      table,
      found: false,
      salvaged: 0,
      rejected: 0,
      expected: null,
      lost: null,
      unreadable: [],
      errors,
    }
  }
  const targetColumns = (
    target.prepare('SELECT name FROM pragma_table_info(?)').all(table) as Array<{ name: string }>
  ).map((c) => c.name)
  const sourceColumns = new Set(sourceInfo.map((c) => c.name))
  const columns = targetColumns.filter((name) => sourceColumns.has(name))
  const list = columns.map(quote).join(', ')
  const insert = target.prepare(
    `INSERT INTO ${quote(table)} (${list}) VALUES (${columns.map(() => '?').join(', ')})`,
  )
  let salvaged = 0
  let rejected = 0
  const write = (values: Row) => {
    try {
      insert.run(...values)
      salvaged += 1
    } catch (error) {
      if (!isDriverError(error)) throw error
      rejected += 1
      note(error)
    }
  }
  const withoutRowid = /\)\s*(?:STRICT\s*,\s*)?WITHOUT\s+ROWID\s*(?:,\s*STRICT\s*)?$/i.test(sourceSql ?? '')
  const qualified = `${quote(schema)}.${quote(table)}`
  const unreadable = withoutRowid
    ? scanByKey(
        source,
        qualified,
        list,
        sourceInfo
          .filter((c) => c.pk > 0)
          .sort((a, b) => a.pk - b.pk)
          .map((c) => c.name),
        write,
        note,
      )
    : scanByRowid(source, qualified, list, write, note)
  const expected = countRows(source, schema, table)
  const read = salvaged + rejected
  return {
    table,
    found: true,
    salvaged,
    rejected,
    expected,
    lost: expected === null ? null : Math.max(0, expected - read),
    unreadable,
    errors,
  }
}

function scanByRowid(
  source: Sqlite,
  qualified: string,
  list: string,
  write: (values: Row) => void,
  note: (error: unknown) => void,
): Array<{ from: string; to: string | null }> {
  const scan = source
    .prepare(`SELECT rowid, ${list} FROM ${qualified} WHERE rowid >= ? ORDER BY rowid`)
    .raw(true)
    .safeIntegers(true)
  const probe = source
    .prepare(`SELECT rowid, ${list} FROM ${qualified} WHERE rowid >= ? ORDER BY rowid LIMIT 1`)
    .raw(true)
    .safeIntegers(true)
  const readable = (from: bigint): boolean => {
    try {
      probe.get(from)
      return true
    } catch (error) {
      if (!isDriverError(error)) throw error
      return false
    }
  }
  const unreadable: Array<{ from: string; to: string | null }> = []
  let next = MIN
  for (;;) {
    let last: bigint | null = null
    try {
      for (const row of scan.iterate(next) as IterableIterator<Row>) {
        last = row[0] as bigint
        write(row.slice(1))
      }
      return unreadable
    } catch (error) {
      if (!isDriverError(error)) throw error
      note(error)
      const failedAt = last === null ? next : last + 1n
      // Ahead by doubling steps to a key that reads, then back by bisection to the first one.
      let bad = failedAt
      let good: bigint | null = null
      for (let step = 1n; ; step *= 2n) {
        const at = failedAt + step > MAX ? MAX : failedAt + step
        if (readable(at)) {
          good = at
          break
        }
        bad = at
        if (at === MAX) break
      }
      if (good === null) {
        unreadable.push({ from: failedAt.toString(), to: null })
        return unreadable
      }
      let first: bigint = good
      while (first - bad > 1n) {
        const middle: bigint = bad + (first - bad) / 2n
        if (readable(middle)) first = middle
        else bad = middle
      }
      unreadable.push({ from: failedAt.toString(), to: (first - 1n).toString() })
      next = first
    }
  }
}

/**
 * Tables without rowid are b-trees of their primary key: the scan resumes past damage by seeking
 * to ever shorter prefixes of the last key read, each bumped by one (`ab12` → `ab13`, `ab2`,
 * `ac`, `b`), which steps over the damaged pages a little more coarsely than bisection.
 */
function scanByKey(
  source: Sqlite,
  qualified: string,
  list: string,
  keys: readonly string[],
  write: (values: Row) => void,
  note: (error: unknown) => void,
): Array<{ from: string; to: string | null }> {
  const unreadable: Array<{ from: string; to: string | null }> = []
  if (keys.length === 0) return unreadable
  const order = keys.map(quote).join(', ')
  const first = quote(keys[0] as string)
  const selectKeys = `${order}, ${list}`
  const all = source
    .prepare(`SELECT ${selectKeys} FROM ${qualified} ORDER BY ${order}`)
    .raw(true)
    .safeIntegers(true)
  const from = source
    .prepare(`SELECT ${selectKeys} FROM ${qualified} WHERE ${first} >= ? ORDER BY ${order}`)
    .raw(true)
    .safeIntegers(true)
  const probe = source
    .prepare(`SELECT ${selectKeys} FROM ${qualified} WHERE ${first} >= ? ORDER BY ${order} LIMIT 1`)
    .raw(true)
    .safeIntegers(true)
  const readable = (prefix: string): boolean => {
    try {
      probe.get(prefix)
      return true
    } catch (error) {
      if (!isDriverError(error)) throw error
      return false
    }
  }
  let resume: { kind: 'start' } | { kind: 'from'; prefix: string } = { kind: 'start' }
  for (;;) {
    let last: unknown[] | null = null
    try {
      const rows = resume.kind === 'start' ? all.iterate() : from.iterate(resume.prefix)
      for (const row of rows as IterableIterator<Row>) {
        last = row.slice(0, keys.length)
        write(row.slice(keys.length))
      }
      return unreadable
    } catch (error) {
      if (!isDriverError(error)) throw error
      note(error)
      const lastFirst = last ? last[0] : resume.kind === 'from' ? resume.prefix : ''
      if (typeof lastFirst !== 'string') {
        unreadable.push({ from: String(lastFirst), to: null })
        return unreadable
      }
      const candidates: string[] = []
      for (let length = lastFirst.length; length >= 1; length--) {
        const code = lastFirst.charCodeAt(length - 1)
        if (code < 0xffff) candidates.push(lastFirst.slice(0, length - 1) + String.fromCharCode(code + 1))
      }
      if (lastFirst === '')
        for (let code = 0x21; code < 0x7f; code++) candidates.push(String.fromCharCode(code))
      const found = candidates.find(readable)
      if (found === undefined) {
        unreadable.push({ from: lastFirst, to: null })
        return unreadable
      }
      unreadable.push({ from: lastFirst, to: found })
      resume = { kind: 'from', prefix: found }
    }
  }
}

/** The table's row count through whichever of its b-trees can be read whole: the largest such count. */
function countRows(source: Sqlite, schema: string, table: string): number | null {
  const counts: number[] = []
  const attempt = (sql: string) => {
    try {
      counts.push(Number(source.prepare(sql).pluck().get()))
    } catch (error) {
      if (!isDriverError(error)) throw error
    }
  }
  attempt(`SELECT count(*) FROM ${quote(schema)}.${quote(table)} NOT INDEXED`)
  let indexes: Array<{ name: string; partial: number }> = []
  try {
    indexes = source
      .prepare('SELECT name, partial FROM pragma_index_list(?, ?)')
      .all(table, schema) as typeof indexes
  } catch (error) {
    if (!isDriverError(error)) throw error
  }
  for (const index of indexes) {
    if (index.partial) continue
    attempt(`SELECT count(*) FROM ${quote(schema)}.${quote(table)} INDEXED BY ${quote(index.name)}`)
  }
  return counts.length === 0 ? null : Math.max(...counts)
}
