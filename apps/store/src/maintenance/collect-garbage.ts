import { fanOut, type ProgressListener, reporter } from '../progress.js'
import type { HiveStore } from '../store.js'
import { throwIfAborted } from './delete-gently.js'

export interface CollectGarbageOptions {
  /** Report what would go without removing anything. */
  readonly dryRun?: boolean
  /**
   * Unreferenced blob files younger than this stay: a write in flight stores its blob before its
   * row. One hour by default.
   */
  readonly graceMs?: number
  readonly onProgress?: ProgressListener
  /** Stops the sweep (`ABORTED`): what was removed stays removed. */
  readonly signal?: AbortSignal
}

export interface CollectGarbageResult {
  readonly dryRun: boolean
  /** Blob files looked at. */
  readonly scanned: number
  /** Unreferenced blob files removed (or that would be). */
  readonly removed: number
  readonly bytesFreed: number
  /** Unreferenced blob files kept because they are younger than the grace period. */
  readonly keptYoung: number
  /** Leftovers of interrupted writes removed (or that would be). */
  readonly tempFiles: number
  readonly tempBytes: number
  /** `blobs` rows dropped because no artifact refers to them and their file is gone. */
  readonly forgottenRows: number
}

/**
 * Mark and sweep of the blob store: a blob file is live while an artifact row refers to it;
 * unreferenced files older than the grace period go, with temp files of interrupted writes.
 * Then the `blobs` rows of what went (and of files gone otherwise) are dropped.
 *
 * @example
 * ```ts
 * const dry = await collectGarbage(store, { dryRun: true })
 * console.log(`${dry.removed} blobs, ${dry.bytesFreed} bytes would be freed`)
 * ```
 */
export async function collectGarbage(
  store: Pick<HiveStore, 'database' | 'blobs' | 'uncached' | 'operations'>,
  options: CollectGarbageOptions = {},
): Promise<CollectGarbageResult> {
  return store.operations.track(
    options.dryRun ? 'gc.dry-run' : 'gc',
    (progress) => sweep(store, { ...options, onProgress: fanOut(progress, options.onProgress) }),
    (result) => result,
  )
}

/** {@link collectGarbage} without its operation record (for operations that include a gc). */
export async function sweep(
  store: Pick<HiveStore, 'database' | 'blobs' | 'uncached'>,
  options: CollectGarbageOptions = {},
): Promise<CollectGarbageResult> {
  const progress = reporter(options.onProgress)
  const dryRun = options.dryRun ?? false
  const sqlite = store.database.sqlite
  const referenced = sqlite.prepare('SELECT 1 FROM artifacts WHERE blob_hash = ? LIMIT 1').pluck()
  // For the progress bar only: the files on disk are what is scanned.
  const total = sqlite.prepare('SELECT count(*) FROM blobs').pluck().get() as number
  const swept = await store.blobs.gc({
    isLive: (hash) => {
      throwIfAborted(options.signal)
      return referenced.get(hash) !== undefined
    },
    dryRun,
    ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
    onProgress: ({ scanned }) =>
      progress({ phase: 'collecting blobs', done: scanned, total: Math.max(total, scanned) }),
  })
  // Rows whose file went now, and unreferenced rows whose file is missing for another reason.
  const candidates = new Set(swept.removed.map((r) => r.hash))
  const orphanRows = sqlite
    .prepare(
      'SELECT hash FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.blob_hash = b.hash)',
    )
    .pluck()
    .all() as string[]
  for (const hash of orphanRows) {
    if (!candidates.has(hash) && !(await store.blobs.has(hash))) candidates.add(hash)
  }
  const forgottenRows = dryRun
    ? orphanRows.filter((hash) => candidates.has(hash)).length
    : await store.uncached.artifacts.forgetBlobs([...candidates])
  progress({
    phase: 'collecting blobs',
    done: Math.max(total, swept.scanned),
    total: Math.max(total, swept.scanned),
  })
  return {
    dryRun,
    scanned: swept.scanned,
    removed: swept.removed.length,
    bytesFreed: swept.bytesFreed,
    keptYoung: swept.keptYoung,
    tempFiles: swept.tempFiles,
    tempBytes: swept.tempBytes,
    forgottenRows,
  }
}
