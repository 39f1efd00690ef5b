import { existsSync, rmSync } from 'node:fs'
import { HiveStorageError } from '@hive/errors'
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
import { openDatabase, quickCheck, restoreDatabase, type SqliteDatabase } from '@hive/sqlite'
import { type DataDirLayout, dataDirLayout, ensureDataDir } from './data-dir.js'
import { openHiveDatabase } from './hive-database.js'
import { type SnapshotInfo, SnapshotStore } from './snapshot-store.js'

export interface DataDirMigrationsConfig {
  /** The data directory (holding `hive.db` and `snapshots/`). */
  readonly dataDir: string
  /** Create the database file when missing (only `up` needs that). */
  readonly createDatabase?: boolean
  /**
   * When the database is missing, work on an empty in-memory one instead of failing: a dry run
   * of a first migration shows its SQL without creating anything.
   */
  readonly memoryIfMissing?: boolean
  /** Create the data directory too (Hive does this for its default directory only). */
  readonly createDirectory?: boolean
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
  /** The snapshot of the database as it was just before the restore. */
  readonly safety: SnapshotInfo | null
  readonly status: MigrationStatus
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
  readonly #config: DataDirMigrationsConfig
  readonly #migrator: Migrator

  private constructor(
    config: DataDirMigrationsConfig,
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
    const create = config.createDatabase ?? false
    const keep = config.keepSnapshots ?? 5
    if (!Number.isInteger(keep) || keep < 0 || keep > 1000) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `keepSnapshots must be an integer from 0 to 1000, not ${keep}`,
        { value: keep },
      )
    }
    const layout = dataDirLayout(config.dataDir)
    if (config.memoryIfMissing && !existsSync(layout.database)) {
      return new DataDirMigrations({ ...config, keepSnapshots: 0 }, layout, openHiveDatabase(':memory:'))
    }
    ensureDataDir(layout.root, { create: create && (config.createDirectory ?? false), writable: true })
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
    const database = openHiveDatabase(layout.database, { create, busyTimeoutMs: 30_000 })
    return new DataDirMigrations({ ...config, keepSnapshots: keep }, layout, database)
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
   * A snapshot is worth keeping only if the run changed something; then older ones are pruned.
   * A run that changed nothing (it failed at once) drops its snapshot, so that `restore` still
   * goes back to the state before the last real change.
   */
  #keepSnapshotIfChanged(result: MigrationRunResult): MigrationRunResult {
    const snapshot = result.beforeChange as SnapshotInfo | null | undefined
    if (!snapshot) return result
    const changed = result.results.some((r) => r.outcome === 'applied' || r.outcome === 'reverted')
    if (changed) {
      this.snapshots.prune('pre-migrate', this.#config.keepSnapshots ?? 5)
      return result
    }
    rmSync(snapshot.path, { force: true })
    const { beforeChange: _dropped, ...rest } = result
    return rest
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

  /**
   * Brings the database back to a snapshot (the latest pre-migration one by default), after
   * checking it and snapshotting the current state, so that a restore can itself be undone.
   */
  async restore(options: { snapshot?: string } = {}): Promise<RestoreReport> {
    const snapshot = this.snapshots.find(options.snapshot)
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
    const current = (await this.#migrator.status()).current
    const safety =
      this.#config.keepSnapshots === 0
        ? null
        : this.snapshots.take(this.layout.database, 'pre-restore', current)
    await restoreDatabase(snapshot.path, this.layout.database)
    this.database.clearStatements()
    if (safety) this.snapshots.prune('pre-restore', this.#config.keepSnapshots ?? 5)
    return { restored: snapshot, safety, status: await this.#migrator.status() }
  }

  close(): void {
    this.database.close()
  }

  #snapshotBeforeChange(current: string | null): SnapshotInfo | null {
    const keep = this.#config.keepSnapshots ?? 5
    // A new, empty database has nothing worth keeping.
    if (keep === 0 || (current === null && isEmpty(this.database))) return null
    return this.snapshots.take(this.layout.database, 'pre-migrate', current)
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
