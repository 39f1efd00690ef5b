import { statSync } from 'node:fs'
import { HiveStorageError } from '@hive/errors'
import { fanOut, type ProgressListener, reporter } from '../progress.js'
import type { HiveStore } from '../store.js'
import { checkpointNow } from './checkpoint-now.js'
import { throwIfAborted } from './delete-gently.js'

/** Pages freed per write transaction of an incremental vacuum (1 MiB with 4 KiB pages). */
const PAGES_PER_STEP = 256

export interface VacuumOptions {
  /**
   * Rebuild the whole file (`VACUUM`): also defragments, but needs as much free disk as the
   * database takes and holds the write lock throughout. Default: incremental, a few MiB per write
   * transaction, so writers are never stalled for long.
   */
  readonly full?: boolean
  readonly onProgress?: ProgressListener
}

export interface VacuumResult {
  readonly mode: 'incremental' | 'full'
  /** Database file size (without the WAL) before and after. */
  readonly beforeBytes: number
  readonly afterBytes: number
  readonly reclaimedBytes: number
  /** Free pages left in the file (an incremental vacuum on a database without auto-vacuum frees none). */
  readonly freeBytes: number
}

/**
 * Gives the database's free pages back to the file system. Incremental by default (the database
 * is created with `auto_vacuum = INCREMENTAL`); `full` rebuilds the file. The WAL is then
 * checkpointed and truncated.
 *
 * @example
 * ```ts
 * const { reclaimedBytes } = await vacuumStore(store)
 * ```
 */
export async function vacuumStore(
  store: Pick<HiveStore, 'database' | 'layout' | 'operations'>,
  options: VacuumOptions = {},
): Promise<VacuumResult> {
  return store.operations.track(
    options.full ? 'vacuum.full' : 'vacuum',
    (progress) => vacuum(store, { ...options, onProgress: fanOut(progress, options.onProgress) }),
    (result) => result,
  )
}

/** {@link vacuumStore} without its operation record (for operations that include a vacuum). */
export async function vacuum(
  store: Pick<HiveStore, 'database' | 'layout'>,
  options: VacuumOptions & { pauseMs?: number; signal?: AbortSignal } = {},
): Promise<VacuumResult> {
  const progress = reporter(options.onProgress)
  const database = store.database
  const sqlite = database.sqlite
  const pragma = (name: string) => Number(sqlite.pragma(name, { simple: true }))
  const fileSize = () => statSync(store.layout.database).size
  checkpointNow(database, 'truncate')
  const beforeBytes = fileSize()
  const pageSize = pragma('page_size')
  const full = options.full ?? false
  if (full) {
    progress({ phase: 'vacuum', done: 0, total: 1 })
    if (sqlite.inTransaction) {
      throw new HiveStorageError('CONFLICT', 'cannot vacuum while a transaction is open on this connection')
    }
    sqlite.exec('VACUUM')
    progress({ phase: 'vacuum', done: 1, total: 1 })
  } else if (pragma('auto_vacuum') === 2) {
    const total = pragma('freelist_count')
    let left = total
    progress({ phase: 'vacuum', done: 0, total })
    while (left > 0) {
      const now = await database.writeTransaction(() => {
        sqlite.pragma(`incremental_vacuum(${PAGES_PER_STEP})`)
        return pragma('freelist_count')
      })
      // Another writer may free or reuse pages meanwhile: stop when no progress is made.
      if (now >= left) break
      left = now
      progress({ phase: 'vacuum', done: Math.max(0, total - left), total })
      throwIfAborted(options.signal)
      // Room for other writers between steps.
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs))
    }
  }
  checkpointNow(database, 'truncate')
  const afterBytes = fileSize()
  return {
    mode: full ? 'full' : 'incremental',
    beforeBytes,
    afterBytes,
    reclaimedBytes: Math.max(0, beforeBytes - afterBytes),
    freeBytes: pragma('freelist_count') * pageSize,
  }
}
