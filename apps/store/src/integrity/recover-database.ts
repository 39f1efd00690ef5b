import { randomBytes } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { HIVE_MIGRATION_NAMES, hiveMigrations, Migrator } from '@hive/migrations'
import type { Database } from '@hive/schema'
import {
  foreignKeyCheck,
  fsyncPath,
  openDatabase,
  quickCheck,
  type SqliteDatabase,
  toHiveStorageError,
} from '@hive/sqlite'
import { clearDamaged } from '../damage-marker.js'
import { type DataDirLayout, ensureDataDir } from '../data-dir.js'
import { HIVE_APPLICATION_ID, openHiveDatabase } from '../hive-database.js'
import { type ProgressListener, reporter } from '../progress.js'
import type { RepairAction } from './check-report.js'
import {
  type BlobFacts,
  type DanglingReference,
  danglingReferences,
  repairDanglingReferences,
} from './foreign-keys.js'
import { rebuildSearchIndex } from './search-index.js'
import { salvageTable, type TableSalvage } from './table-salvage.js'

export interface RecoverOptions {
  /** The data directory whose `hive.db` is damaged. */
  readonly dataDir: string
  /**
   * Recover anyway: a database that passes its checks is rebuilt row by row, and one of which
   * nothing can be read is replaced by an empty database (the file is kept in `quarantine/`).
   */
  readonly force?: boolean
  readonly onProgress?: ProgressListener
  readonly now?: () => number
}

/** What {@link recoverDatabase} did: where the damaged files went and what came back. */
export interface RecoverReport {
  readonly dataDir: string
  readonly database: string
  /** The damaged database and its WAL files, now in `quarantine/` (never deleted). */
  readonly quarantined: readonly string[]
  /** What was wrong: the first problems its check found, or why it did not open. */
  readonly damage: readonly string[]
  /** The damaged database's last migration, when its history could be read. */
  readonly fromVersion: string | null
  /** The new database's schema version (the latest). */
  readonly version: string
  /** Every table, in the order it was salvaged. */
  readonly tables: readonly TableSalvage[]
  readonly totals: {
    readonly salvaged: number
    readonly rejected: number
    /** Rows known lost (see {@link TableSalvage.lost}). */
    readonly lost: number
    /** Tables whose losses could not be counted (no b-tree of theirs could be read whole). */
    readonly uncounted: readonly string[]
  }
  /** Documents in the rebuilt search index. */
  readonly searchDocuments: number
  /** References to rows that were lost, found after salvaging (before they were repaired). */
  readonly danglingReferences: readonly DanglingReference[]
  /** How those were made consistent (see `checkStore`'s repairs). */
  readonly repaired: readonly RepairAction[]
  /** The new database's own check. */
  readonly check: { readonly ok: boolean; readonly problems: readonly string[] }
  readonly durationMs: number
}

/** Tables not copied: SQLite's own, the migration history (the new database has its own) and the search index (rebuilt). */
function isSalvaged(name: string, virtual: readonly string[]): boolean {
  if (name.startsWith('sqlite_') || name === 'hive_migrations') return false
  const shadows = ['data', 'idx', 'content', 'docsize', 'config']
  return !virtual.some((table) => name === table || shadows.some((shadow) => name === `${table}_${shadow}`))
}

/**
 * Recovers a damaged database: builds a new one with the current schema beside it, copies into
 * it every row that can still be read from the damaged one (table by table; past unreadable
 * pages by seeking ahead), rebuilds the search index, makes references to lost rows consistent,
 * checks the result, and only then swaps it in: the damaged `hive.db` and its WAL files go to
 * `quarantine/`. Until that last step nothing in the data directory changes, so an interruption
 * leaves the damaged database where it was. The report says, table by table, what was salvaged
 * and what was lost.
 *
 * A database that passes its checks is refused (`CONFLICT`), as is one of which nothing can be
 * read (`DATABASE_CORRUPT`, `NOT_A_DATABASE`), unless `force`. Stop every process that uses the
 * data directory first: a process that keeps the old file open would write to the quarantined one.
 *
 * @example
 * ```ts
 * const report = await recoverDatabase({ dataDir })
 * for (const table of report.tables) console.log(table.table, table.salvaged, table.lost)
 * ```
 */
export async function recoverDatabase(options: RecoverOptions): Promise<RecoverReport> {
  const started = performance.now()
  const now = options.now ?? Date.now
  const progress = reporter(options.onProgress)
  const layout = ensureDataDir(options.dataDir, { create: false, writable: true })
  if (!existsSync(layout.database)) {
    throw new HiveStorageError(
      'NOT_FOUND',
      `there is no database to recover in ${layout.root} (\`hive migrate\` creates a new one, \`hive restore SRC\` restores a backup)`,
      { value: layout.database },
    )
  }
  removeLeftovers(layout.root, now())
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`
  // The damaged files are copied and only the copy is opened: opening the original could
  // replay or checkpoint its WAL into it, and it must reach quarantine as it was.
  const work = join(layout.root, `.recover-${tag}`)
  const fresh = join(layout.root, `.hive.db.recover-${tag}`)
  let source: SqliteDatabase | undefined
  let target: SqliteDatabase<Database> | undefined
  try {
    progress({ phase: 'copying', done: 0, total: 1 })
    mkdirSync(work, { mode: 0o700 })
    const copy = join(work, 'hive.db')
    copyFileSync(layout.database, copy)
    if (existsSync(`${layout.database}-wal`)) copyFileSync(`${layout.database}-wal`, `${copy}-wal`)
    progress({ phase: 'copying', done: 1, total: 1 })

    const damage: string[] = []
    source = openDamaged(copy, layout.database, damage)
    if (source) {
      const applicationId = source.sqlite.pragma(`${DAMAGED}.application_id`, { simple: true }) as number
      if (applicationId !== 0 && applicationId !== HIVE_APPLICATION_ID) {
        throw new HiveStorageError(
          'NOT_A_HIVE_DATABASE',
          `${layout.database} is a SQLite database of another application (application_id ${applicationId}): not recovering it`,
          { value: layout.database },
        )
      }
      damage.push(...diagnose(source))
    }
    if (source && damage.length === 0 && !options.force) {
      throw new HiveStorageError(
        'CONFLICT',
        `${layout.database} passes its integrity and foreign key checks: there is nothing to recover (\`hive check\` checks everything else; \`hive recover --force\` rebuilds it anyway)`,
        { value: layout.database },
      )
    }
    const history = source ? readHistory(source) : null
    if (!source || history === undefined) {
      if (!options.force) {
        throw new HiveStorageError(
          source ? 'DATABASE_CORRUPT' : (errorCodeOf(damage) ?? 'DATABASE_CORRUPT'),
          `nothing can be read from ${layout.database} (${damage[0] ?? 'its schema is unreadable'}): restore a backup (\`hive restore SRC\`) or a snapshot (\`hive migrate restore\`), or start over with an empty database that keeps this one in quarantine/ (\`hive recover --force\`)`,
          { value: layout.database },
        )
      }
    }
    const unknown = (history ?? []).filter((name) => !HIVE_MIGRATION_NAMES.includes(name))
    if (unknown.length > 0) {
      throw new HiveStorageError(
        'DATABASE_TOO_NEW',
        `${layout.database} was migrated by a newer Hive (${unknown.join(', ')}): recover it with that version, or it would lose what those migrations added`,
        { value: unknown },
      )
    }

    // The new database, under a temporary name.
    target = openHiveDatabase(fresh, { create: true })
    const migrated = await new Migrator({ dialect: target.dialect, source: hiveMigrations }).up()
    if (!migrated.ok) throw migrated.error
    const sqlite = target.sqlite
    const version = sqlite
      .prepare('SELECT name FROM hive_migrations ORDER BY name DESC LIMIT 1')
      .pluck()
      .get() as string

    // Rows go in with foreign keys off (a child may come before its parent, or without it) and
    // without the search triggers (the index is built once at the end, in rowid order).
    sqlite.pragma('foreign_keys = OFF')
    const triggers = sqlite
      .prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%INSERT INTO search%' ORDER BY name",
      )
      .all() as Array<{ name: string; sql: string }>
    for (const trigger of triggers) sqlite.exec(`DROP TRIGGER "${trigger.name}"`)
    const virtual = sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
      .pluck()
      .all() as string[]
    const tables = salvageOrder(sqlite).filter((name) => isSalvaged(name, virtual))
    const results: TableSalvage[] = []
    for (const [index, table] of tables.entries()) {
      progress({ phase: `salvaging ${table}`, done: index, total: tables.length })
      const src = source
      results.push(
        src
          ? target.transaction(() => salvageTable(src.sqlite, DAMAGED, sqlite, table))
          : {
              table,
              found: false,
              salvaged: 0,
              rejected: 0,
              expected: null,
              lost: null,
              unreadable: [],
              errors: [],
            },
      )
    }
    progress({ phase: 'salvaging', done: tables.length, total: tables.length })
    source?.close()
    source = undefined

    progress({ phase: 'search index', done: 0, total: 1 })
    const searchDocuments = target.transaction(() => {
      const written = rebuildSearchIndex(sqlite)
      for (const trigger of triggers) sqlite.exec(trigger.sql)
      return written
    })
    progress({ phase: 'search index', done: 1, total: 1 })

    progress({ phase: 'foreign keys', done: 0, total: 1 })
    sqlite.pragma('foreign_keys = ON')
    const dangling = danglingReferences(sqlite)
    const blobFacts = await blobFactsFor(layout, sqlite)
    const repaired = target.transaction(() =>
      repairDanglingReferences(sqlite, dangling, { blobFacts, now: now() }),
    )
    progress({ phase: 'foreign keys', done: 1, total: 1 })

    const structure = quickCheck(sqlite)
    const keys = foreignKeyCheck(sqlite)
    const check = {
      ok: structure.ok && keys.ok,
      problems: [
        ...structure.problems,
        ...keys.violations.map((v) => `${v.table} row ${v.rowid} refers to a missing ${v.parent} row`),
      ],
    }
    if (!structure.ok) {
      throw new HiveStorageError(
        'INTERNAL',
        `the recovered database fails its own check (${structure.problems[0]}): nothing was changed`,
        { value: structure.problems },
      )
    }
    target.close()
    target = undefined
    rmSync(`${fresh}-wal`, { force: true })
    rmSync(`${fresh}-shm`, { force: true })
    fsyncPath(fresh)

    progress({ phase: 'installing', done: 0, total: 1 })
    const quarantined = install(layout, fresh, now())
    clearDamaged(layout.root) // a new database: the mark was about the old one
    progress({ phase: 'installing', done: 1, total: 1 })

    const totals = {
      salvaged: results.reduce((sum, t) => sum + t.salvaged, 0),
      rejected: results.reduce((sum, t) => sum + t.rejected, 0),
      lost: results.reduce((sum, t) => sum + (t.lost ?? 0), 0),
      uncounted: results.filter((t) => t.lost === null).map((t) => t.table),
    }
    return {
      dataDir: layout.root,
      database: layout.database,
      quarantined,
      damage,
      fromVersion: history?.at(-1) ?? null,
      version,
      tables: results,
      totals,
      searchDocuments,
      danglingReferences: dangling,
      repaired,
      check,
      durationMs: Math.round(performance.now() - started),
    }
  } finally {
    source?.close()
    target?.close()
    rmSync(work, { recursive: true, force: true })
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${fresh}${suffix}`, { force: true })
  }
}

/** Working files of a recovery interrupted by a crash (older than an hour: none is still in use). */
function removeLeftovers(root: string, time: number): void {
  for (const name of readdirSync(root)) {
    if (!/^\.(?:hive\.db\.)?recover-\d+-[0-9a-f]{8}/.test(name)) continue
    const path = join(root, name)
    try {
      if (statSync(path).mtimeMs < time - 60 * 60 * 1000) rmSync(path, { recursive: true, force: true })
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

function errorCodeOf(damage: readonly string[]): 'NOT_A_DATABASE' | undefined {
  return damage.some((line) => /not a SQLite database|not a database/i.test(line))
    ? 'NOT_A_DATABASE'
    : undefined
}

/** The schema name the damaged database is attached under. */
const DAMAGED = 'damaged'

/**
 * Opens the damaged copy for reading: attached to an in-memory connection on which SQLite's
 * defensive mode is off and `writable_schema` on, so that a file shorter than its header says,
 * or with schema entries that do not parse, still opens and gives what it can. Only reads run on
 * it (the copy is attached read-write so that SQLite may replay its WAL). Returns undefined (and says why in `damage`) when SQLite does
 * not recognise the file at all.
 */
function openDamaged(copy: string, original: string, damage: string[]): SqliteDatabase | undefined {
  const connection = openDatabase(':memory:')
  try {
    connection.sqlite.unsafeMode(true)
    connection.sqlite.pragma('writable_schema = ON')
    // The copy is ours: attached read-write, so that SQLite can read its WAL as it likes.
    connection.sqlite.prepare(`ATTACH DATABASE ? AS ${DAMAGED}`).run(copy)
    // Reading the schema is where a file that is not a database fails.
    connection.sqlite.prepare(`SELECT count(*) FROM ${DAMAGED}.sqlite_master`).get()
    return connection
  } catch (error) {
    connection.close()
    const hive = toHiveStorageError(error, `cannot open ${original}`, original)
    if (!isHiveStorageError(hive, 'NOT_A_DATABASE', 'DATABASE_CORRUPT')) throw hive
    damage.push(hive.message)
    return undefined
  }
}

/** What is wrong with the damaged database: its `quick_check`'s findings, then dangling references. */
function diagnose(source: SqliteDatabase): string[] {
  const structure = checkOutcome(() => source.sqlite.pragma(`${DAMAGED}.quick_check(20)`))
  if (structure.length > 0) return structure
  try {
    const rows = source.sqlite.pragma(`${DAMAGED}.foreign_key_check`) as Array<{
      table: string
      rowid: number | null
      parent: string
    }>
    return rows.slice(0, 20).map((v) => `${v.table} row ${v.rowid} refers to a missing ${v.parent} row`)
  } catch (error) {
    return [toHiveStorageError(error, 'foreign_key_check').message]
  }
}

/** The problems a check pragma reports; its error, when it stops on damage instead. */
function checkOutcome(run: () => unknown): string[] {
  try {
    return (run() as Array<Record<string, unknown>>)
      .map((row) => String(Object.values(row)[0] ?? ''))
      .filter((line) => line !== 'ok')
  } catch (error) {
    return [toHiveStorageError(error, 'quick_check').message]
  }
}

/**
 * The damaged database's applied migrations; `[]` without a history table; `undefined` when
 * its schema cannot be read at all.
 */
function readHistory(source: SqliteDatabase): string[] | undefined {
  try {
    source.sqlite.prepare(`SELECT count(*) FROM ${DAMAGED}.sqlite_master`).get()
  } catch {
    return undefined
  }
  try {
    return source.sqlite
      .prepare(`SELECT name FROM ${DAMAGED}.hive_migrations ORDER BY name`)
      .pluck()
      .all() as string[]
  } catch {
    return []
  }
}

/** Tables in an order where parents come before their children (cycles broken arbitrarily). */
function salvageOrder(sqlite: SqliteDatabase['sqlite']): string[] {
  const tables = sqlite
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
    .pluck()
    .all() as string[]
  const parents = new Map(
    tables.map((table) => [
      table,
      new Set(
        (
          sqlite.prepare('SELECT "table" FROM pragma_foreign_key_list(?)').pluck().all(table) as string[]
        ).filter((parent) => parent !== table),
      ),
    ]),
  )
  const ordered: string[] = []
  const visiting = new Set<string>()
  const visit = (table: string) => {
    if (ordered.includes(table) || visiting.has(table)) return
    visiting.add(table)
    for (const parent of parents.get(table) ?? []) visit(parent)
    visiting.delete(table)
    ordered.push(table)
  }
  for (const table of tables) visit(table)
  return ordered
}

/** Sizes and encodings of the blob files that salvaged artifacts name but no salvaged `blobs` row does. */
async function blobFactsFor(
  layout: DataDirLayout,
  sqlite: SqliteDatabase['sqlite'],
): Promise<Map<string, BlobFacts | null>> {
  const hashes = sqlite
    .prepare('SELECT DISTINCT blob_hash FROM artifacts WHERE blob_hash NOT IN (SELECT hash FROM blobs)')
    .pluck()
    .all() as string[]
  const facts = new Map<string, BlobFacts | null>()
  if (hashes.length === 0) return facts
  const blobs = new BlobStore({ root: layout.blobs, hashThread: false })
  for (const hash of hashes) {
    try {
      const info = await blobs.stat(hash)
      facts.set(hash, { size: info.size, storedSize: info.storedSize, encoding: info.encoding })
    } catch (error) {
      if (!isHiveStorageError(error, 'NOT_FOUND', 'BLOB_CORRUPT', 'INVALID_INPUT')) throw error
      facts.set(hash, null)
    }
  }
  return facts
}

/**
 * Puts the new database in place of the damaged one. The damaged files are first linked into
 * `quarantine/` (so they are never without a name), the old WAL and shared-memory files are
 * removed (SQLite would otherwise apply the old WAL to the new file), then the new file is
 * renamed over `hive.db`: one atomic step.
 */
function install(layout: DataDirLayout, fresh: string, time: number): string[] {
  mkdirSync(layout.quarantine, { recursive: true, mode: 0o700 })
  const stamp = new Date(time).toISOString().replace(/[-:.]/g, '')
  const moved: string[] = []
  for (const suffix of ['', '-wal', '-shm']) {
    const from = `${layout.database}${suffix}`
    if (!existsSync(from)) continue
    let to = join(layout.quarantine, `${stamp}-${basename(from)}`)
    for (let n = 1; existsSync(to); n++) to = join(layout.quarantine, `${stamp}-${n}-${basename(from)}`)
    try {
      linkSync(from, to)
    } catch {
      copyFileSync(from, to) // a file system without hard links
    }
    moved.push(to)
  }
  fsyncPath(layout.quarantine)
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(`${layout.database}${suffix}`)) unlinkSync(`${layout.database}${suffix}`)
  }
  renameSync(fresh, layout.database)
  fsyncPath(layout.root)
  return moved
}
