import { BlobStore } from '@hive/blobs'
import { type CacheOptions, type CacheStats, createCache, type HiveCache } from '@hive/cache'
import { HiveStorageError } from '@hive/errors'
import { createQueryServices, type QueryServices } from '@hive/queries'
import type { Database } from '@hive/schema'
import { ReadPool, type ReadPoolOptions, type SqliteDatabase } from '@hive/sqlite'
import { Kysely } from 'kysely'
import { refuseIfDamaged } from './damage-marker.js'
import { type DataDirLayout, ensureDataDir } from './data-dir.js'
import { DataDirMigrations } from './data-dir-migrations.js'
import { openHiveDatabase } from './hive-database.js'
import { MaintenanceRunner, type MaintenanceRunnerOptions } from './maintenance/maintenance-runner.js'
import { OperationLog } from './operations/operation-log.js'

export interface OpenHiveStoreOptions {
  /** The data directory (`hive.db`, `blobs/`, `snapshots/`, `quarantine/`). */
  readonly dataDir: string
  /** Create the data directory and the database when missing (default false). */
  readonly create?: boolean
  /**
   * Pending migrations: `'auto'` applies them on open (snapshotting the database first, as
   * `hive migrate` does); `'require'` (the default) refuses to open with `DATABASE_TOO_OLD`.
   */
  readonly migrate?: 'auto' | 'require'
  /** Caches in front of the services (default on). */
  readonly cache?: boolean | CacheOptions
  /** Long reads (search, transcript streams) in worker threads (default off: for servers). */
  readonly readPool?: boolean | Omit<ReadPoolOptions, 'path'>
  /**
   * Background maintenance (default off: for long-running processes such as the Hive server,
   * not for short commands). One runner works per data directory across processes.
   */
  readonly maintenance?: boolean | Omit<MaintenanceRunnerOptions, 'now'>
  /**
   * Open a data directory whose database a check found damaged (for checking it again); by
   * default that is refused with `DATABASE_CORRUPT`, so that nothing writes to a damaged file.
   */
  readonly allowDamaged?: boolean
  readonly now?: () => number
}

/** Everything of one data directory, composed: what the Hive server and the `hive` command use. */
export interface HiveStore {
  readonly layout: DataDirLayout
  readonly database: SqliteDatabase<Database>
  readonly blobs: BlobStore
  /** The query services (cached when the cache is on). */
  readonly services: QueryServices
  /** The same services without the cache. */
  readonly uncached: QueryServices
  readonly cache: HiveCache | undefined
  readonly readPool: ReadPool | undefined
  /**
   * Long operations (gc, retention, vacuum, check, export, import, maintenance): subscribe to
   * their progress here, or list them, also those of other processes.
   */
  readonly operations: OperationLog
  /** The background maintenance runner, when the store was opened with `maintenance`. */
  readonly maintenance: MaintenanceRunner | undefined
  /** Hits, misses, evictions and bytes of the caches (null when the cache is off). */
  cacheStats(): CacheStats | null
  /**
   * Tells the cache that something changed behind the services' back on this connection
   * (maintenance, imports): it empties itself.
   */
  invalidateCaches(): void
  /** Drains the read pool, then closes the database (checkpointed). */
  close(): Promise<void>
}

/**
 * Opens a data directory as one store: the database (migrated or checked), the blob store, the
 * query services, the cache and, when asked, a read pool. Each Hive phase can still take a single
 * package alone; this is their composition.
 *
 * @example
 * ```ts
 * const store = await openHiveStore({ dataDir, create: true, migrate: 'auto' })
 * const cell = await store.services.cells.create({ workspaceId, name: 'Fix login', type: 'implementation' })
 * await store.close()
 * ```
 */
export async function openHiveStore(options: OpenHiveStoreOptions): Promise<HiveStore> {
  const create = options.create ?? false
  const layout = ensureDataDir(options.dataDir, { create, writable: true })
  if (!options.allowDamaged) refuseIfDamaged(layout.root)
  const migrations = DataDirMigrations.open({
    dataDir: layout.root,
    createDatabase: create,
    ...(options.now ? { now: options.now } : {}),
  })
  try {
    const status = await migrations.status()
    if (status.problems.length > 0) throw status.problems[0]
    if (status.pending.length > 0) {
      if ((options.migrate ?? 'require') === 'require') {
        throw new HiveStorageError(
          'DATABASE_TOO_OLD',
          `${layout.database} is at schema ${status.current ?? 'none'} and ${status.pending.length} migration(s) are pending: run \`hive migrate\``,
          { value: status.pending },
        )
      }
      const result = await migrations.up()
      if (!result.ok) throw result.error
    }
  } finally {
    migrations.close()
  }
  const database = openHiveDatabase(layout.database, { create: false })
  try {
    const blobs = new BlobStore({ root: layout.blobs })
    let readPool: ReadPool | undefined
    if (options.readPool) {
      readPool = new ReadPool({
        path: layout.database,
        ...(typeof options.readPool === 'object' ? options.readPool : {}),
      })
    }
    const uncached = createQueryServices({
      db: database.db,
      content: blobs,
      writer: database,
      ...(options.now ? { now: options.now } : {}),
      ...(readPool ? { readDb: new Kysely<Database>({ dialect: readPool.dialect }) } : {}),
    })
    const cache =
      options.cache === false
        ? undefined
        : createCache(uncached, { database, ...(typeof options.cache === 'object' ? options.cache : {}) })
    let closed: Promise<void> | undefined
    let runner: MaintenanceRunner | undefined
    const store: HiveStore = {
      layout,
      database,
      blobs,
      services: cache?.services ?? uncached,
      uncached,
      cache,
      readPool,
      operations: new OperationLog({ database, ...(options.now ? { now: options.now } : {}) }),
      get maintenance() {
        return runner
      },
      cacheStats: () => cache?.stats() ?? null,
      invalidateCaches: () => cache?.invalidateAll(),
      close: () => {
        closed ??= (async () => {
          await runner?.stop()
          cache?.close()
          await readPool?.close()
          database.close()
        })()
        return closed
      },
    }
    if (options.maintenance) {
      runner = new MaintenanceRunner(store, {
        ...(typeof options.maintenance === 'object' ? options.maintenance : {}),
        ...(options.now ? { now: options.now } : {}),
      })
      runner.start()
    }
    return store
  } catch (error) {
    database.close()
    throw error
  }
}
