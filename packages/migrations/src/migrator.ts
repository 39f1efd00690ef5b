// biome-ignore-all lint/suspicious/noExplicitAny: migrations run against whatever schema exists.
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { type Dialect, Kysely, sql } from 'kysely'
import { MIGRATION_NAME, type Migration, type MigrationSource } from './migration.js'
import {
  countUserTables,
  createHistory,
  readHistory,
  recordApplied,
  recordChecksum,
  recordReverted,
} from './migration-history.js'
import { compareMigrations, type MigrationStatus } from './migration-status.js'

/** What the migrator is about to do, handed to {@link MigratorConfig.beforeChange}. */
export interface PlannedChange {
  readonly direction: 'up' | 'down'
  /** The last applied migration before the change. */
  readonly current: string | null
  /** The migrations about to be applied (up) or reverted (down), in order. */
  readonly migrations: readonly string[]
}

export interface MigratorConfig {
  /** The dialect of the database to migrate (e.g. `SqliteDatabase#dialect` of `@hive/sqlite`). */
  readonly dialect: Dialect
  readonly source: MigrationSource
  /**
   * Called once before the first change, while the migrator holds the write lock, so that what
   * it sees is exactly what is about to change: the place to snapshot the database. What it
   * returns is passed back in the result. If it throws, nothing is changed. It must not query
   * through a Kysely instance of the same connection (that waits for the migrator's lock
   * forever); a separate connection, such as `snapshotDatabase` of `@hive/sqlite` opens, is right.
   */
  readonly beforeChange?: (change: PlannedChange) => unknown
  /** How long to wait for the write lock before giving up (default two minutes). */
  readonly lockTimeoutMs?: number
  readonly now?: () => number
}

/**
 * What happened to one migration: `applied` / `reverted`; `skipped` (another process did it
 * first); `failed` (rolled back: the database stays at the previous version); `not-run` (an
 * earlier one failed); `rebaselined` (its recorded checksum was accepted anew, or its record of
 * a vanished migration dropped); `dry-run` (run and rolled back, to show its SQL).
 */
export type MigrationOutcome =
  | 'applied'
  | 'reverted'
  | 'skipped'
  | 'failed'
  | 'not-run'
  | 'rebaselined'
  | 'dry-run'

export interface MigrationResult {
  readonly name: string
  readonly direction: 'up' | 'down'
  readonly outcome: MigrationOutcome
  readonly durationMs: number
  /** The statements it ran (dry runs only), with their parameters. */
  readonly sql: readonly string[]
  readonly error?: HiveStorageError
}

export interface MigrationRunResult {
  /** True when every planned migration ran and nothing was refused. */
  readonly ok: boolean
  readonly direction: 'up' | 'down'
  readonly dryRun: boolean
  /** The last applied migration before and after the run. */
  readonly from: string | null
  readonly to: string | null
  readonly results: readonly MigrationResult[]
  /** Why the run stopped or was refused, if it did. */
  readonly error?: HiveStorageError
  /** What {@link MigratorConfig.beforeChange} returned (a snapshot, say). */
  readonly beforeChange?: unknown
}

export interface UpOptions {
  /** Stop after this migration (it must exist). */
  readonly to?: string
  /** Run the migrations in a transaction that is rolled back, returning their SQL. */
  readonly dryRun?: boolean
  /** Accept modified migrations' new checksums and forget missing ones, then go on. */
  readonly rebaseline?: boolean
}

export interface DownOptions {
  /** How many applied migrations to revert, newest first (default 1). */
  readonly steps?: number
  readonly dryRun?: boolean
}

class RunState {
  readonly results: MigrationResult[] = []
  error: HiveStorageError | undefined
  beforeChange: unknown
}

/**
 * Applies and reverts migrations, one transaction each, safely with other processes doing the
 * same (the write lock is taken before the history is read). Nothing here throws: every method
 * returns a result that says what happened to each migration and why it stopped.
 *
 * @example
 * ```ts
 * const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
 * const result = await migrator.up()
 * if (!result.ok) console.error(result.error?.message)
 * ```
 */
export class Migrator {
  readonly #config: MigratorConfig
  readonly #db: Kysely<any>
  #capture: string[] | undefined

  constructor(config: MigratorConfig) {
    this.#config = config
    this.#db = new Kysely<any>({
      dialect: config.dialect,
      log: (event) => {
        const parameters =
          event.query.parameters.length > 0 ? ` -- ${JSON.stringify(event.query.parameters)}` : ''
        this.#capture?.push(`${event.query.sql.trim()};${parameters}`)
      },
    })
  }

  /** The code's migrations compared with the database's history. Reads only. */
  async status(): Promise<MigrationStatus> {
    const migrations = await this.#migrations()
    return this.#db.connection().execute(async (db) => {
      const applied = await readHistory(db)
      return compareMigrations(migrations, applied, applied.length === 0 ? await countUserTables(db) : 0)
    })
  }

  /** The problems that would stop a run (modified, missing, newer…); empty when all is well. */
  async verify(): Promise<{ readonly ok: boolean; readonly status: MigrationStatus }> {
    const status = await this.status()
    return { ok: status.problems.length === 0, status }
  }

  /** Applies pending migrations, oldest first, up to `to` or the latest. */
  async up(options: UpOptions = {}): Promise<MigrationRunResult> {
    return this.#run(
      'up',
      options.dryRun ?? false,
      async (_state, migrations) => {
        if (options.to !== undefined && !migrations.some((migration) => migration.name === options.to)) {
          throw new HiveStorageError(
            'UNKNOWN_MIGRATION',
            `there is no migration named ${JSON.stringify(options.to)}`,
            {
              value: options.to,
            },
          )
        }
        return (status) => {
          const planned =
            options.to === undefined
              ? status.pending
              : status.pending.filter((name) => name <= (options.to as string))
          return planned.map((name) => migrations.find((migration) => migration.name === name) as Migration)
        }
      },
      options.rebaseline ?? false,
    )
  }

  /** Reverts the last `steps` applied migrations, newest first. */
  async down(options: DownOptions = {}): Promise<MigrationRunResult> {
    const steps = options.steps ?? 1
    return this.#run(
      'down',
      options.dryRun ?? false,
      async (state, migrations) => {
        if (!Number.isInteger(steps) || steps < 1 || steps > 100_000) {
          throw new HiveStorageError('INVALID_INPUT', `steps must be a positive integer, not ${steps}`, {
            value: steps,
          })
        }
        return (status) => {
          const done = state.results.filter(
            (result) => result.outcome === 'reverted' || result.outcome === 'dry-run',
          ).length
          const applied = status.entries
            .filter((entry) => entry.state === 'applied')
            .map((entry) => entry.name)
          return applied
            .reverse()
            .slice(0, Math.max(0, steps - done))
            .map((name) => migrations.find((migration) => migration.name === name) as Migration)
        }
      },
      false,
    )
  }

  async #migrations(): Promise<readonly Migration[]> {
    const migrations = await this.#config.source.getMigrations()
    const names = migrations.map((migration) => migration.name)
    for (const name of names) {
      if (!MIGRATION_NAME.test(name)) {
        throw new HiveStorageError(
          'INVALID_INPUT',
          `migration name ${JSON.stringify(name)} must look like 0001_create_things`,
          { value: name },
        )
      }
    }
    if (new Set(names).size !== names.length) {
      throw new HiveStorageError('INVALID_INPUT', 'two migrations have the same name', { value: names })
    }
    return [...migrations].sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /**
   * The loop shared by up and down: under the write lock, read the history, check it, pick the
   * next migration, run it, record it, commit; again until none is left. Dry runs do all of it
   * in one transaction and roll it back.
   */
  async #run(
    direction: 'up' | 'down',
    dryRun: boolean,
    prepare: (
      state: RunState,
      migrations: readonly Migration[],
    ) => Promise<(status: MigrationStatus) => Migration[]>,
    rebaseline: boolean,
  ): Promise<MigrationRunResult> {
    const state = new RunState()
    let from: string | null = null
    let to: string | null = null
    try {
      const migrations = await this.#migrations()
      const plan = await prepare(state, migrations)
      await this.#db.connection().execute(async (db) => {
        // The snapshot is taken before the write lock when possible (a large database takes a
        // while to copy, and other writers would wait all that time); if anyone commits in
        // between, it is taken again under the lock.
        let snapshotVersion = dryRun
          ? undefined
          : await this.#snapshotEarly(db, direction, migrations, plan, state)
        let first = true
        for (;;) {
          await this.#begin(db)
          let status: MigrationStatus
          let next: Migration[]
          try {
            status = await this.#statusIn(db, migrations, direction === 'up')
            if (first) from = status.current
            to = status.current
            if (first && rebaseline && (await this.#rebaseline(db, status, state))) {
              status = await this.#statusIn(db, migrations, true)
            }
            if (status.problems.length > 0) throw status.problems[0]
            next = plan(status)
            if (first) this.#markPlanned(state, direction, next)
            if (next.length > 0 && first && !dryRun && this.#config.beforeChange) {
              if (snapshotVersion === undefined || snapshotVersion !== (await this.#dataVersion(db))) {
                state.beforeChange = await this.#config.beforeChange({
                  direction,
                  current: status.current,
                  migrations: next.map((m) => m.name),
                })
              }
              snapshotVersion = undefined
            }
          } catch (error) {
            await this.#rollback(db)
            throw error
          }
          first = false
          const migration = next[0]
          if (migration === undefined) {
            // Nothing (left) to do; a re-baseline may still have something to commit.
            if (dryRun) await this.#rollback(db)
            else await this.#commit(db)
            break
          }
          if (dryRun) {
            await this.#dryRun(db, next, direction, state, migrations, plan)
            break
          }
          if (migration.foreignKeys === 'off') {
            // The pragma is a no-op inside a transaction: leave it (keeping a re-baseline),
            // switch, and take the lock anew.
            await this.#commit(db)
            await this.#withoutForeignKeys(db, async () => {
              await this.#begin(db)
              if (
                plan(await this.#statusIn(db, migrations, direction === 'up'))[0]?.name !== migration.name
              ) {
                await this.#rollback(db) // another process moved on meanwhile: look again
                return
              }
              await this.#applyAndCommit(db, migration, direction, state)
            })
          } else {
            await this.#applyAndCommit(db, migration, direction, state)
          }
          to = direction === 'up' ? migration.name : await this.#currentIn(db)
        }
      })
    } catch (error) {
      state.error = isHiveStorageError(error)
        ? error
        : new HiveStorageError(
            'INTERNAL',
            `migration ${direction} stopped: ${(error as Error)?.message ?? error}`,
            {
              cause: error,
            },
          )
    }
    // Planned migrations another process applied first are `skipped`; after a failure, `not-run`.
    const results = state.results.map((result) =>
      result.outcome === 'not-run' && state.error === undefined
        ? { ...result, outcome: 'skipped' as const }
        : result,
    )
    return {
      ok: state.error === undefined,
      direction,
      dryRun,
      from,
      to: dryRun ? from : to,
      results,
      ...(state.error ? { error: state.error } : {}),
      ...(state.beforeChange === undefined ? {} : { beforeChange: state.beforeChange }),
    }
  }

  /**
   * Calls `beforeChange` before taking the write lock, if the history read without the lock
   * says there is work. Returns the connection's `data_version` at that moment, or undefined
   * when it did not snapshot.
   */
  async #snapshotEarly(
    db: Kysely<any>,
    direction: 'up' | 'down',
    migrations: readonly Migration[],
    plan: (status: MigrationStatus) => Migration[],
    state: RunState,
  ): Promise<number | undefined> {
    if (!this.#config.beforeChange) return undefined
    const applied = await readHistory(db)
    const status = compareMigrations(
      migrations,
      applied,
      applied.length === 0 ? await countUserTables(db) : 0,
    )
    const next = status.problems.length > 0 ? [] : plan(status)
    if (next.length === 0) return undefined
    const version = await this.#dataVersion(db)
    try {
      state.beforeChange = await this.#config.beforeChange({
        direction,
        current: status.current,
        migrations: next.map((m) => m.name),
      })
    } catch (error) {
      this.#markPlanned(state, direction, next)
      throw error
    }
    return version
  }

  /** Runs every planned migration in one transaction, rolls it back, and keeps their SQL. */
  async #dryRun(
    db: Kysely<any>,
    planned: readonly Migration[],
    direction: 'up' | 'down',
    state: RunState,
    migrations: readonly Migration[],
    plan: (status: MigrationStatus) => Migration[],
  ): Promise<void> {
    const foreignKeysOff = planned.some((m) => m.foreignKeys === 'off')
    const body = async () => {
      try {
        for (const migration of plan(await this.#statusIn(db, migrations, direction === 'up'))) {
          const result = await this.#step(db, migration, direction, true)
          this.#record(state, {
            ...result,
            sql:
              migration.foreignKeys === 'off'
                ? [
                    'PRAGMA foreign_keys = OFF; -- before the transaction',
                    ...result.sql,
                    'PRAGMA foreign_key_check;',
                    'PRAGMA foreign_keys = ON; -- after it',
                  ]
                : result.sql,
          })
        }
      } finally {
        await this.#rollback(db)
      }
    }
    if (!foreignKeysOff) return body()
    await this.#rollback(db)
    await this.#withoutForeignKeys(db, async () => {
      await this.#begin(db)
      await body()
    })
  }

  async #withoutForeignKeys(db: Kysely<any>, fn: () => Promise<void>): Promise<void> {
    await sql`PRAGMA foreign_keys = OFF`.execute(db)
    try {
      await fn()
    } finally {
      await sql`PRAGMA foreign_keys = ON`.execute(db)
    }
  }

  #markPlanned(state: RunState, direction: 'up' | 'down', planned: readonly Migration[]): void {
    for (const migration of planned) {
      state.results.push({ name: migration.name, direction, outcome: 'not-run', durationMs: 0, sql: [] })
    }
  }

  /** Puts a migration's result in place of its `not-run` entry (or at the end). */
  #record(state: RunState, result: MigrationResult): void {
    const index = state.results.findIndex((r) => r.name === result.name && r.outcome === 'not-run')
    if (index >= 0) state.results[index] = result
    else state.results.push(result)
  }

  /**
   * Runs one migration in the open transaction and commits it; only a successful COMMIT makes it
   * `applied` (or `reverted`). Any failure, of the migration or of the COMMIT, rolls back and
   * is reported as `MIGRATION_FAILED` naming the migration.
   */
  async #applyAndCommit(
    db: Kysely<any>,
    migration: Migration,
    direction: 'up' | 'down',
    state: RunState,
  ): Promise<void> {
    const started = performance.now()
    let result: MigrationResult
    try {
      result = await this.#step(db, migration, direction, false)
      await this.#commit(db)
    } catch (error) {
      await this.#rollback(db)
      const failure = new HiveStorageError(
        'MIGRATION_FAILED',
        `migration ${migration.name} (${direction}) failed: ${(error as Error)?.message ?? error}; the database stays as it was before it`,
        { value: migration.name, cause: error },
      )
      this.#record(state, {
        name: migration.name,
        direction,
        outcome: 'failed',
        durationMs: Math.round(performance.now() - started),
        sql: [],
        error: failure,
      })
      throw failure
    }
    this.#record(state, result)
  }

  /** Runs a migration's up or down and records it in the history, inside the open transaction. */
  async #step(
    db: Kysely<any>,
    migration: Migration,
    direction: 'up' | 'down',
    dryRun: boolean,
  ): Promise<MigrationResult> {
    const started = performance.now()
    const captured: string[] = []
    this.#capture = dryRun ? captured : undefined
    try {
      if (direction === 'up') await migration.up(db)
      else await migration.down(db)
    } finally {
      this.#capture = undefined
    }
    if (migration.foreignKeys === 'off') await this.#checkForeignKeys(db, migration.name)
    const durationMs = Math.round(performance.now() - started)
    if (!dryRun && direction === 'up') {
      await recordApplied(db, {
        name: migration.name,
        checksum: migration.checksum,
        appliedAt: (this.#config.now ?? Date.now)(),
        durationMs,
      })
    }
    if (!dryRun && direction === 'down') await recordReverted(db, migration.name)
    return {
      name: migration.name,
      direction,
      outcome: dryRun ? 'dry-run' : direction === 'up' ? 'applied' : 'reverted',
      durationMs,
      sql: captured,
    }
  }

  /** Accepts modified checksums and forgets missing migrations; true if it changed anything. */
  async #rebaseline(db: Kysely<any>, status: MigrationStatus, state: RunState): Promise<boolean> {
    // Refusals a re-baseline cannot fix (newer database, foreign database) still stop it.
    const blocking = status.problems.find(
      (p) => p.code !== 'MIGRATION_MODIFIED' && p.code !== 'MIGRATION_MISSING',
    )
    if (blocking) throw blocking
    let changed = false
    for (const entry of status.entries) {
      if (entry.state === 'modified' && entry.checksum !== null)
        await recordChecksum(db, entry.name, entry.checksum)
      else if (entry.state === 'missing') await recordReverted(db, entry.name)
      else continue
      changed = true
      state.results.push({
        name: entry.name,
        direction: 'up',
        outcome: 'rebaselined',
        durationMs: 0,
        sql: [],
      })
    }
    return changed
  }

  async #checkForeignKeys(db: Kysely<any>, name: string): Promise<void> {
    const { rows } = await sql<{ table: string; parent: string }>`PRAGMA foreign_key_check`.execute(db)
    if (rows.length > 0) {
      const first = rows[0] as { table: string; parent: string }
      throw new HiveStorageError(
        'MIGRATION_FAILED',
        `migration ${name} left ${rows.length} row(s) with a missing parent (first: ${first.table} → ${first.parent})`,
        { value: name },
      )
    }
  }

  async #statusIn(
    db: Kysely<any>,
    migrations: readonly Migration[],
    create: boolean,
  ): Promise<MigrationStatus> {
    if (create) await createHistory(db)
    const applied = await readHistory(db)
    return compareMigrations(migrations, applied, applied.length === 0 ? await countUserTables(db) : 0)
  }

  /** Changes whenever another connection commits (SQLite's `PRAGMA data_version`). */
  async #dataVersion(db: Kysely<any>): Promise<number> {
    const { rows } = await sql<{ data_version: number }>`PRAGMA data_version`.execute(db)
    return rows[0]?.data_version ?? 0
  }

  async #currentIn(db: Kysely<any>): Promise<string | null> {
    return (await readHistory(db)).at(-1)?.name ?? null
  }

  /** BEGIN IMMEDIATE, retried until the lock timeout: other migrators may hold it for a while. */
  async #begin(db: Kysely<any>): Promise<void> {
    const deadline = Date.now() + (this.#config.lockTimeoutMs ?? 120_000)
    for (let attempt = 0; ; attempt++) {
      try {
        await sql`BEGIN IMMEDIATE`.execute(db)
        return
      } catch (error) {
        if (!isHiveStorageError(error, 'DATABASE_BUSY') || Date.now() >= deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, Math.min(250, 10 * 2 ** Math.min(attempt, 5))))
      }
    }
  }

  async #commit(db: Kysely<any>): Promise<void> {
    await sql`COMMIT`.execute(db)
  }

  async #rollback(db: Kysely<any>): Promise<void> {
    try {
      await sql`ROLLBACK`.execute(db)
    } catch {
      // SQLite already rolled back (some errors do that): nothing left to undo.
    }
  }
}
