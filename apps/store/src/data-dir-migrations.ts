import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import {
  type DownOptions,
  hiveMigrations,
  type MigrationRunResult,
  type MigrationSource,
  type MigrationStatus,
  Migrator,
  type UpOptions,
} from '@hive/migrations'
import type { Database } from '@hive/schema'
import { fsyncPath, openDatabase, quickCheck, restoreDatabase, type SqliteDatabase } from '@hive/sqlite'
import { clearDamaged } from './damage-marker.js'
import { type DataDirLayout, dataDirLayout, ensureDataDir } from './data-dir.js'
import { openHiveDatabase } from './hive-database.js'
import { type SnapshotInfo, SnapshotStore } from './snapshot-store.js'

export interface DataDirMigrationsConfig {
  /** The data directory (holding `hive.db` and `snapshots/`). */
  readonly dataDir: string
  /** Create the database file when missing (only `up` needs that). */
  readonly createDatabase?: boolean
  /** Create the data directory too (Hive does this for its default directory only). */
  readonly createDirectory?: boolean
  /** Open the database read-only (status, verify): nothing on disk changes. */
  readonly readonly?: boolean
  /**
   * When the database is missing, work on an empty in-memory one instead of failing: a dry run
   * of a first migration shows its SQL without creating anything.
   */
  readonly memoryIfMissing?: boolean
  /** The migrations; Hive's own by default. */
  readonly source?: MigrationSource
  /** Pre-migration snapshots to keep (default 5). */
  readonly keepSnapshots?: number
  readonly now?: () => number
}

/** A difference between the live schema and the one the applied migrations should have made. */
export interface SchemaDifference {
  readonly object: string
  readonly problem: 'missing' | 'unexpected' | 'different'
}

export interface VerifyReport {
  readonly ok: boolean
  readonly status: MigrationStatus
  /** Objects (tables, indexes, triggers) added, removed or changed outside migrations. */
  readonly schema: readonly SchemaDifference[]
}

export interface RestoreReport {
  readonly restored: SnapshotInfo
  /** The snapshot of the database as it was just before the restore (null if it was not readable). */
  readonly safety: SnapshotInfo | null
  /** Where the previous files went when they could not be snapshotted (a damaged database). */
  readonly quarantined: readonly string[]
  readonly status: MigrationStatus
}

function keepOf(config: { keepSnapshots?: number }): number {
  const keep = config.keepSnapshots ?? 5
  if (!Number.isInteger(keep) || keep < 0 || keep > 1000) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `keepSnapshots must be an integer from 0 to 1000, not ${keep}`,
      { value: keep },
    )
  }
  return keep
}

/**
 * Migrations of one data directory: the migrator, with a snapshot into `snapshots/` before any
 * change (the last N kept), schema verification and restore from a snapshot. This is what
 * `hive migrate` runs.
 *
 * @example
 * ```ts
 * const migrations = DataDirMigrations.open({ dataDir, createDatabase: true })
 * const result = await migrations.up()
 * migrations.close()
 * ```
 */
export class DataDirMigrations {
  readonly layout: DataDirLayout
  readonly database: SqliteDatabase<Database>
  readonly snapshots: SnapshotStore
  readonly #config: DataDirMigrationsConfig & { keepSnapshots: number }
  readonly #migrator: Migrator

  private constructor(
    config: DataDirMigrationsConfig & { keepSnapshots: number },
    layout: DataDirLayout,
    database: SqliteDatabase<Database>,
  ) {
    this.#config = config
    this.layout = layout
    this.database = database
    this.snapshots = new SnapshotStore({ dir: layout.snapshots, ...(config.now ? { now: config.now } : {}) })
    this.#migrator = new Migrator({
      dialect: database.dialect,
      source: config.source ?? hiveMigrations,
      beforeChange: (change) => this.#snapshotBeforeChange(change.current),
      ...(config.now ? { now: config.now } : {}),
    })
  }

  /** Opens the data directory's database, which must exist unless told to create it. */
  static open(config: DataDirMigrationsConfig): DataDirMigrations {
    const keepSnapshots = keepOf(config)
    const create = (config.createDatabase ?? false) && !config.readonly
    const layout = dataDirLayout(config.dataDir)
    if (
      config.memoryIfMissing &&
      !existsSync(layout.database) &&
      (config.createDirectory || existsSync(layout.root))
    ) {
      return new DataDirMigrations({ ...config, keepSnapshots: 0 }, layout, openHiveDatabase(':memory:'))
    }
    ensureDataDir(layout.root, {
      create: create && (config.createDirectory ?? false),
      writable: !config.readonly,
    })
    if (!create && !existsSync(layout.database)) {
      throw new HiveStorageError(
        'NOT_FOUND',
        `there is no Hive database in ${layout.root} (run \`hive migrate\` to create one)`,
        {
          value: layout.database,
        },
      )
    }
    // Migrations wait for each other (and for long snapshots) rather than fail.
    const database = openHiveDatabase(layout.database, {
      create,
      readonly: config.readonly ?? false,
      busyTimeoutMs: 30_000,
    })
    return new DataDirMigrations({ ...config, keepSnapshots }, layout, database)
  }

  /**
   * Brings a data directory's database back to a snapshot (the latest pre-migration one by
   * default). The snapshot is checked first. The current database is snapshotted as
   * `pre-restore`, so that a restore can be undone the same way; if it cannot be read (it is
   * damaged: the usual reason to restore), its files are moved to `quarantine/` instead. It
   * never needs the current database to open.
   */
  static async restore(config: {
    dataDir: string
    snapshot?: string
    /** A database file from elsewhere (a backup) instead of a snapshot of `snapshots/`. */
    file?: string
    /** Create the data directory when missing (restoring a backup on a new machine). */
    create?: boolean
    keepSnapshots?: number
    source?: MigrationSource
    now?: () => number
  }): Promise<RestoreReport> {
    const keep = keepOf(config)
    const now = config.now ?? Date.now
    const layout = ensureDataDir(config.dataDir, { create: config.create ?? false, writable: true })
    const snapshots = new SnapshotStore({ dir: layout.snapshots, now })
    const snapshot = config.file === undefined ? snapshots.find(config.snapshot) : fileInfo(config.file)
    const probe = openDatabase(snapshot.path, { readonly: true, create: false })
    try {
      const check = quickCheck(probe.sqlite)
      if (!check.ok) {
        throw new HiveStorageError(
          'SNAPSHOT_FAILED',
          `snapshot ${snapshot.name} is damaged: ${check.problems[0]}`,
          {
            value: snapshot.name,
          },
        )
      }
    } finally {
      probe.close()
    }

    let safety: SnapshotInfo | null = null
    const quarantined: string[] = []
    if (existsSync(layout.database)) {
      if (isReadable(layout.database)) {
        // A failure here (a full disk, say) stops the restore with nothing changed.
        if (keep > 0) {
          safety = snapshots.take(layout.database, 'pre-restore', currentVersion(layout.database))
          snapshots.prune('pre-restore', keep)
        }
      } else {
        quarantined.push(...quarantineDatabase(layout, now()))
      }
    }
    if (existsSync(layout.database)) {
      await restoreDatabase(snapshot.path, layout.database)
    } else {
      installCopy(snapshot.path, layout)
    }
    clearDamaged(layout.root) // another database now
    const restored = DataDirMigrations.open({
      dataDir: layout.root,
      readonly: true,
      ...(config.source ? { source: config.source } : {}),
    })
    try {
      return { restored: snapshot, safety, quarantined, status: await restored.status() }
    } finally {
      restored.close()
    }
  }

  status(): Promise<MigrationStatus> {
    return this.#migrator.status()
  }

  /** Applies pending migrations (see {@link Migrator.up}), snapshotting the database first. */
  async up(options: UpOptions = {}): Promise<MigrationRunResult> {
    return this.#keepSnapshotIfChanged(await this.#migrator.up(options))
  }

  /** Reverts applied migrations (see {@link Migrator.down}), snapshotting the database first. */
  async down(options: DownOptions = {}): Promise<MigrationRunResult> {
    return this.#keepSnapshotIfChanged(await this.#migrator.down(options))
  }

  /**
   * Checks the history (modified, missing, newer migrations) and then the schema itself: a scratch
   * database migrated to the same version must have exactly the same tables, indexes and triggers.
   */
  async verify(): Promise<VerifyReport> {
    const status = await this.#migrator.status()
    if (status.problems.length > 0) return { ok: false, status, schema: [] }
    const scratch = openDatabase(':memory:')
    try {
      if (status.current !== null) {
        const built = await new Migrator({
          dialect: scratch.dialect,
          source: this.#config.source ?? hiveMigrations,
        }).up({
          to: status.current,
        })
        if (!built.ok) throw built.error
      }
      const schema = compareSchemas(schemaOf(scratch), schemaOf(this.database))
      return { ok: schema.length === 0, status, schema }
    } finally {
      scratch.close()
    }
  }

  close(): void {
    this.database.close()
  }

  /**
   * A snapshot is worth keeping only if the run changed something; then older ones are pruned.
   * A run that changed nothing (it failed at once) drops its snapshot, so that `restore` still
   * goes back to the state before the last real change.
   */
  #keepSnapshotIfChanged(result: MigrationRunResult): MigrationRunResult {
    const snapshot = result.beforeChange as SnapshotInfo | null | undefined
    if (!snapshot) return result
    const changed = result.results.some((r) => r.outcome === 'applied' || r.outcome === 'reverted')
    if (changed) {
      this.snapshots.prune('pre-migrate', this.#config.keepSnapshots)
      return result
    }
    rmSync(snapshot.path, { force: true })
    const { beforeChange: _dropped, ...rest } = result
    return rest
  }

  #snapshotBeforeChange(current: string | null): SnapshotInfo | null {
    // A new, empty database has nothing worth keeping.
    if (this.#config.keepSnapshots === 0 || (current === null && isEmpty(this.database))) return null
    return this.snapshots.take(this.layout.database, 'pre-migrate', current)
  }
}

/** The last applied migration of a database file, read without changing it; null if unknown. */
function currentVersion(path: string): string | null {
  const database = openDatabase(path, { readonly: true, create: false })
  try {
    return (
      (database.sqlite.prepare('SELECT name FROM hive_migrations ORDER BY name DESC LIMIT 1').pluck().get() as
        | string
        | undefined) ?? null
    )
  } catch {
    return null
  } finally {
    database.close()
  }
}

/** A database file outside `snapshots/`, described like a snapshot. */
function fileInfo(path: string): SnapshotInfo {
  let stat: ReturnType<typeof statSync>
  try {
    stat = statSync(path)
  } catch (cause) {
    throw new HiveStorageError('NOT_FOUND', `there is no database file ${path}`, { value: path, cause })
  }
  return {
    name: basename(path),
    path,
    kind: 'manual',
    takenAt: stat.mtimeMs,
    version: currentVersion(path) ?? 'empty',
    bytes: stat.size,
  }
}

/** Whether a database file opens and passes `quick_check`; false when it is damaged. */
function isReadable(path: string): boolean {
  let database: SqliteDatabase | undefined
  try {
    database = openDatabase(path, { readonly: true, create: false })
    return quickCheck(database.sqlite).ok
  } catch (error) {
    if (isHiveStorageError(error, 'DATABASE_CORRUPT', 'NOT_A_DATABASE')) return false
    throw error
  } finally {
    database?.close()
  }
}

/** Moves the database and its WAL files into `quarantine/` (never deletes them). */
function quarantineDatabase(layout: DataDirLayout, time: number): string[] {
  mkdirSync(layout.quarantine, { recursive: true, mode: 0o700 })
  const moved: string[] = []
  for (const suffix of ['', '-wal', '-shm']) {
    const from = `${layout.database}${suffix}`
    if (!existsSync(from)) continue
    const to = join(
      layout.quarantine,
      `${new Date(time).toISOString().replace(/[-:.]/g, '')}-${basename(from)}`,
    )
    renameSync(from, to)
    moved.push(to)
  }
  fsyncPath(layout.root)
  return moved
}

/** Puts a copy of a snapshot in place of a missing database: temp file, fsync, rename. */
function installCopy(snapshotPath: string, layout: DataDirLayout): void {
  const temporary = join(layout.root, `.hive.db.${process.pid}.restore`)
  try {
    copyFileSync(snapshotPath, temporary)
    const fd = openSync(temporary, 'r+')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, layout.database)
    fsyncPath(layout.root)
  } catch (cause) {
    rmSync(temporary, { force: true })
    throw new HiveStorageError(
      'SNAPSHOT_FAILED',
      `cannot install snapshot ${snapshotPath}: ${(cause as Error).message}`,
      {
        value: snapshotPath,
        cause,
      },
    )
  }
}

function isEmpty(database: Pick<SqliteDatabase, 'sqlite'>): boolean {
  return (
    database.sqlite
      .prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'hive_migrations'",
      )
      .pluck()
      .get() === 0
  )
}

type SchemaObjects = Map<string, string>

/** Tables, indexes, triggers and views, by `type name`, with whitespace-normalised SQL. */
function schemaOf(database: Pick<SqliteDatabase, 'sqlite'>): SchemaObjects {
  const rows = database.sqlite
    .prepare(
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> 'hive_migrations' AND sql IS NOT NULL",
    )
    .all() as Array<{ type: string; name: string; sql: string }>
  return new Map(rows.map((row) => [`${row.type} ${row.name}`, row.sql.replace(/\s+/g, ' ').trim()]))
}

function compareSchemas(expected: SchemaObjects, actual: SchemaObjects): SchemaDifference[] {
  const differences: SchemaDifference[] = []
  for (const [object, sql] of expected) {
    const live = actual.get(object)
    if (live === undefined) differences.push({ object, problem: 'missing' })
    else if (live !== sql) differences.push({ object, problem: 'different' })
  }
  for (const object of actual.keys())
    if (!expected.has(object)) differences.push({ object, problem: 'unexpected' })
  return differences.sort((a, b) => (a.object < b.object ? -1 : 1))
}
