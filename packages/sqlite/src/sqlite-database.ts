import { closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { HiveStorageError, parseInput } from '@hive/errors'
import type BetterSqlite3 from 'better-sqlite3'
import Sqlite from 'better-sqlite3'
import { type CompiledQuery, Kysely, type QueryResult } from 'kysely'
import { z } from 'zod'
import { ConnectionLock, executeCompiled, HiveSqliteDialect } from './hive-sqlite-dialect.js'
import { fromDriver, toHiveStorageError } from './sqlite-error.js'
import { StatementCache, type StatementCacheStats } from './statement-cache.js'

const openOptionsSchema = z
  .object({
    /** Create the data directory (0700) and the database file (0600) when missing. */
    create: z.boolean().default(true),
    /** Open read-only: no pragmas that write, no checkpoint on close. */
    readonly: z.boolean().default(false),
    /** `normal` is safe in WAL mode against application crashes; `full` also against power loss. */
    synchronous: z.enum(['normal', 'full']).default('normal'),
    /** How long a statement waits for another connection's lock before failing. */
    busyTimeoutMs: z.int().min(0).max(3_600_000).default(5000),
    /** Page cache per connection. */
    cacheSizeKiB: z
      .int()
      .min(64)
      .max(4 * 1024 * 1024)
      .default(16 * 1024),
    /** Memory-mapped I/O for reads; off by default (an I/O error then becomes a crash). */
    mmapSizeBytes: z
      .int()
      .min(0)
      .max(2 ** 40)
      .default(0),
    /** How many prepared statements to keep; 0 turns the cache off. */
    statementCacheSize: z.int().min(0).max(100_000).default(256),
    /** WAL size kept after a checkpoint. */
    journalSizeLimitBytes: z
      .int()
      .min(0)
      .max(2 ** 40)
      .default(64 * 1024 * 1024),
    /**
     * The `application_id` written into new databases and required of existing ones, so that a
     * file of another application is refused instead of being changed.
     */
    applicationId: z.int().min(1).max(0x7fffffff).optional(),
  })
  .strict()

/** What {@link OpenDatabaseOptions.accept} is shown of an existing file before anything is written. */
export interface ExistingDatabase {
  readonly path: string
  readonly applicationId: number
  /** Names of its tables (SQLite's own excluded). */
  readonly tables: readonly string[]
}

export type OpenDatabaseOptions = z.input<typeof openOptionsSchema> & {
  /**
   * Called for an existing, non-empty file after its header was read and before any pragma that
   * writes (WAL, application id): throw to refuse the file, which is then left exactly as it was.
   */
  readonly accept?: (database: ExistingDatabase) => void
}
type Config = z.output<typeof openOptionsSchema> & {
  path: string
  accept?: (database: ExistingDatabase) => void
}

/** The result of a `wal_checkpoint`. */
export interface CheckpointResult {
  /** Another connection kept the checkpoint from finishing. */
  readonly busy: boolean
  /** Frames in the WAL, and how many of them are now in the database file. */
  readonly walFrames: number
  readonly checkpointedFrames: number
}

/**
 * An open SQLite database: the better-sqlite3 handle for synchronous work, a Kysely instance on
 * the same connection, and the settings Hive relies on (WAL, busy timeout, foreign keys…).
 * Create it with {@link openDatabase}.
 */
export class SqliteDatabase<DB = unknown> {
  /** The absolute path of the database file (`:memory:` for an in-memory one). */
  readonly path: string
  /** The better-sqlite3 connection. Write transactions must use {@link SqliteDatabase.transaction}. */
  readonly sqlite: BetterSqlite3.Database
  /** A Kysely instance on this connection; its transactions begin with `BEGIN IMMEDIATE`. */
  readonly db: Kysely<DB>
  /** The dialect behind {@link SqliteDatabase.db}, for a second Kysely instance (e.g. with logging). */
  readonly dialect: HiveSqliteDialect
  readonly #config: Config
  readonly #statements: StatementCache
  #closed = false
  #depth = 0
  /** The connection's lock, shared with every Kysely instance on it. */
  readonly #lock = new ConnectionLock()
  #writeTransaction: BetterSqlite3.Transaction<(body: () => unknown) => unknown> | undefined
  readonly #execute = <R>(query: CompiledQuery<R>): QueryResult<R> =>
    executeCompiled<R>(this.#statements, query)

  /** @internal Use {@link openDatabase}. */
  constructor(sqlite: BetterSqlite3.Database, config: Config) {
    this.sqlite = sqlite
    this.path = config.path
    this.#config = config
    this.#statements = new StatementCache(sqlite, config.statementCacheSize)
    this.dialect = new HiveSqliteDialect(this.#statements, this.#lock)
    this.db = new Kysely<DB>({ dialect: this.dialect })
  }

  get readonly(): boolean {
    return this.#config.readonly
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Runs `fn` in a write transaction that begins with `BEGIN IMMEDIATE`: it waits for the write
   * lock up front (up to the busy timeout), so it never fails halfway on lock contention. Nested
   * calls become savepoints. A throw rolls everything back.
   *
   * @example
   * ```ts
   * database.transaction(() => {
   *   insertCell.run(cell)
   *   insertEvent.run(event)
   * })
   * ```
   */
  transaction<T>(fn: () => T): T {
    // A transaction this method did not open (a Kysely transaction awaiting between queries, the
    // migrator) must not silently absorb these writes: they would commit or roll back with it.
    if (this.sqlite.inTransaction && this.#depth === 0) {
      throw new HiveStorageError(
        'CONFLICT',
        'a transaction is already open on this connection (a Kysely transaction or a migration): a synchronous write transaction cannot join it',
      )
    }
    const run = this.sqlite.transaction(fn)
    this.#depth += 1
    try {
      return this.#depth > 1 ? run() : run.immediate()
    } catch (error) {
      throw fromDriver(error, 'transaction failed')
    } finally {
      this.#depth -= 1
    }
  }

  /**
   * Runs `fn` in a write transaction (`BEGIN IMMEDIATE`) synchronously, between the queries of
   * Kysely instances on this connection: it first takes their lock, so it never lands inside one
   * of their transactions. `execute` runs compiled Kysely queries through the statement cache.
   * A hot path gets one event-loop turn for the whole transaction instead of one per query.
   *
   * @example
   * ```ts
   * await database.writeTransaction((execute) => {
   *   execute(db.insertInto('events').values(row).compile())
   * })
   * ```
   */
  async writeTransaction<T>(fn: (execute: <R>(query: CompiledQuery<R>) => QueryResult<R>) => T): Promise<T> {
    if (!this.#lock.tryAcquire()) await this.#lock.acquire()
    try {
      if (this.sqlite.inTransaction) {
        throw new HiveStorageError(
          'CONFLICT',
          'a transaction is already open on this connection: a write transaction cannot join it',
        )
      }
      this.#writeTransaction ??= this.sqlite.transaction((body: () => unknown) => body())
      return this.#writeTransaction.immediate(() => fn(this.#execute)) as T
    } catch (error) {
      throw fromDriver(error, 'transaction failed')
    } finally {
      this.#lock.release()
    }
  }

  /**
   * Runs `fn` in a read transaction (`BEGIN DEFERRED`, no write lock) between the queries of
   * Kysely instances on this connection, like {@link SqliteDatabase.writeTransaction}: every read
   * inside sees one committed state, and writers (this process's and others') go on meanwhile.
   *
   * @example
   * ```ts
   * const { cells, events } = await database.readTransaction((execute) => ({
   *   cells: execute(db.selectFrom('cells').select(sql<number>`count(*)`.as('n')).compile()).rows,
   *   events: database.sqlite.prepare('SELECT count(*) FROM events').pluck().get(),
   * }))
   * ```
   */
  async readTransaction<T>(fn: (execute: <R>(query: CompiledQuery<R>) => QueryResult<R>) => T): Promise<T> {
    if (!this.#lock.tryAcquire()) await this.#lock.acquire()
    try {
      if (this.sqlite.inTransaction) {
        throw new HiveStorageError(
          'CONFLICT',
          'a transaction is already open on this connection: a read transaction cannot join it',
        )
      }
      this.#writeTransaction ??= this.sqlite.transaction((body: () => unknown) => body())
      return this.#writeTransaction.deferred(() => fn(this.#execute)) as T
    } catch (error) {
      throw fromDriver(error, 'transaction failed')
    } finally {
      this.#lock.release()
    }
  }

  /** Prepared-statement cache figures. */
  statementStats(): StatementCacheStats {
    return this.#statements.stats()
  }

  /** Forgets cached statements (after the schema changed under them, for instance). */
  clearStatements(): void {
    this.#statements.clear()
  }

  /** Copies the WAL into the database file. `truncate` also empties the WAL file. */
  checkpoint(mode: 'passive' | 'full' | 'restart' | 'truncate' = 'passive'): CheckpointResult {
    const rows = this.sqlite.pragma(`wal_checkpoint(${mode.toUpperCase()})`) as Array<{
      busy: number
      log: number
      checkpointed: number
    }>
    const row = rows[0]
    return { busy: row?.busy === 1, walFrames: row?.log ?? 0, checkpointedFrames: row?.checkpointed ?? 0 }
  }

  /**
   * Checkpoints the WAL (so the database file alone is complete), updates the query planner's
   * statistics, and closes the connection. Calling it again does nothing.
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    try {
      if (!this.#config.readonly && this.sqlite.open) {
        // A connection that changed nothing leaves the file exactly as it found it.
        if ((this.sqlite.prepare('SELECT total_changes()').pluck().get() as number) > 0)
          this.sqlite.pragma('optimize')
        if (this.path !== ':memory:') this.checkpoint('truncate')
      }
    } catch {
      // Best effort: another connection may hold the lock; SQLite replays the WAL on next open.
    } finally {
      this.sqlite.close()
    }
  }
}

/**
 * Opens (and by default creates) a SQLite database the way Hive needs it: WAL journal,
 * `busy_timeout`, `foreign_keys=ON`, `synchronous=NORMAL` (or FULL), a sized page cache,
 * incremental auto-vacuum on new files, a 0700 data directory and a 0600 database file.
 * Every failure is a {@link HiveStorageError} that names the file: `DATA_DIR_UNUSABLE`,
 * `NOT_A_DATABASE`, `NOT_A_HIVE_DATABASE`, `DATABASE_READONLY`, `DATABASE_CORRUPT`…
 *
 * @example
 * ```ts
 * const database = openDatabase<Database>('/home/me/.local/share/hive/hive.db')
 * const count = await database.db.selectFrom('cells').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()
 * database.close()
 * ```
 */
export function openDatabase<DB = unknown>(
  path: string,
  options: OpenDatabaseOptions = {},
): SqliteDatabase<DB> {
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0')) {
    throw new HiveStorageError('INVALID_INPUT', 'database path must be a non-empty string', { value: path })
  }
  const { accept, ...rest } = options
  if (accept !== undefined && typeof accept !== 'function') {
    throw new HiveStorageError('INVALID_INPUT', 'invalid database options: accept must be a function', {
      value: accept,
    })
  }
  const parsed = parseInput(openOptionsSchema, rest, 'database options')
  const inMemory = path === ':memory:'
  const config: Config = { ...parsed, path: inMemory ? path : resolve(path), ...(accept ? { accept } : {}) }
  if (!inMemory) prepareFile(config)

  let sqlite: BetterSqlite3.Database
  try {
    sqlite = new Sqlite(config.path, {
      readonly: config.readonly,
      fileMustExist: !inMemory,
      timeout: config.busyTimeoutMs,
    })
  } catch (error) {
    throw toHiveStorageError(error, `cannot open ${config.path}`, config.path)
  }
  try {
    configure(sqlite, config)
  } catch (error) {
    sqlite.close()
    throw toHiveStorageError(error, `cannot open ${config.path}`, config.path)
  }
  return new SqliteDatabase<DB>(sqlite, config)
}

/** Creates the data directory and the file with private permissions; checks what is there. */
function prepareFile(config: Config): void {
  const directory = dirname(config.path)
  let directoryStat = statOrUndefined(directory)
  if (directoryStat === undefined) {
    if (!config.create || config.readonly) {
      throw new HiveStorageError('DATA_DIR_UNUSABLE', `data directory ${directory} does not exist`, {
        value: directory,
      })
    }
    try {
      mkdirSync(directory, { recursive: true, mode: 0o700 })
    } catch (error) {
      throw new HiveStorageError(
        'DATA_DIR_UNUSABLE',
        `cannot create data directory ${directory}: ${(error as Error).message}`,
        { value: directory, cause: error },
      )
    }
    directoryStat = statSync(directory)
  }
  if (!directoryStat.isDirectory()) {
    throw new HiveStorageError('DATA_DIR_UNUSABLE', `data directory ${directory} is not a directory`, {
      value: directory,
    })
  }

  const fileStat = statOrUndefined(config.path)
  if (fileStat !== undefined) {
    if (!fileStat.isFile()) {
      throw new HiveStorageError('NOT_A_DATABASE', `${config.path} is not a regular file`, {
        value: config.path,
      })
    }
    return
  }
  if (!config.create || config.readonly) {
    throw new HiveStorageError('NOT_FOUND', `database ${config.path} does not exist`, { value: config.path })
  }
  try {
    closeSync(openSync(config.path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return // another process just made it
    throw new HiveStorageError(
      'DATA_DIR_UNUSABLE',
      `cannot create ${config.path}: ${(error as Error).message}`,
      { value: directory, cause: error },
    )
  }
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new HiveStorageError('DATA_DIR_UNUSABLE', `cannot read ${path}: ${(error as Error).message}`, {
      value: path,
      cause: error,
    })
  }
}

function configure(sqlite: BetterSqlite3.Database, config: Config): void {
  // Reading the header first: a file that is not a database fails here, before any write.
  const pageCount = sqlite.pragma('page_count', { simple: true }) as number
  const applicationId = sqlite.pragma('application_id', { simple: true }) as number
  const isNew = pageCount === 0
  if (
    config.applicationId !== undefined &&
    !isNew &&
    applicationId !== 0 &&
    applicationId !== config.applicationId
  ) {
    throw new HiveStorageError(
      'NOT_A_HIVE_DATABASE',
      `${config.path} is a SQLite database of another application (application_id ${applicationId})`,
      { value: config.path },
    )
  }
  if (config.accept && !isNew) {
    const tables = sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
      )
      .pluck()
      .all() as string[]
    config.accept({ path: config.path, applicationId, tables })
  }

  sqlite.pragma(`busy_timeout = ${config.busyTimeoutMs}`)
  sqlite.pragma(`cache_size = -${config.cacheSizeKiB}`)
  sqlite.pragma('temp_store = MEMORY')
  sqlite.pragma(`mmap_size = ${config.mmapSizeBytes}`)
  sqlite.pragma('foreign_keys = ON')
  // REPLACE deletes the old row; only with this on do its delete triggers (and so the search
  // index's bookkeeping) run.
  sqlite.pragma('recursive_triggers = ON')
  if (config.readonly) return

  if (isNew) {
    // Only possible before the first table exists; lets retention give space back page by page.
    sqlite.pragma('auto_vacuum = INCREMENTAL')
    if (config.applicationId !== undefined) sqlite.pragma(`application_id = ${config.applicationId}`)
  }
  const mode = sqlite.pragma('journal_mode = WAL', { simple: true })
  if (mode !== 'wal' && mode !== 'memory') {
    throw new HiveStorageError(
      'DATABASE_ERROR',
      `${config.path}: cannot use WAL journal mode (got ${mode})`,
      {
        value: config.path,
      },
    )
  }
  sqlite.pragma(`synchronous = ${config.synchronous.toUpperCase()}`)
  sqlite.pragma(`journal_size_limit = ${config.journalSizeLimitBytes}`)
}
