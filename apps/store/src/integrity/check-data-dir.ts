import { isHiveStorageError } from '@hive/errors'
import { markDamaged } from '../damage-marker.js'
import { dataDirLayout } from '../data-dir.js'
import { type HiveStore, openHiveStore } from '../store.js'
import type { CheckProblem, CheckReport } from './check-report.js'
import { type CheckOptions, checkStore } from './check-store.js'

/**
 * {@link checkStore} for a data directory: opens its store, checks it and closes it. A database
 * that does not even open (`NOT_A_DATABASE`, `DATABASE_CORRUPT`) is a finding like the others
 * (`database-unreadable`), not an error; a missing data directory or database, or pending
 * migrations, are errors.
 *
 * @example
 * ```ts
 * const report = await checkDataDir({ dataDir, full: true })
 * process.exitCode = report.ok ? 0 : 1
 * ```
 */
export async function checkDataDir(
  options: CheckOptions & { readonly dataDir: string },
): Promise<CheckReport> {
  const started = performance.now()
  const { dataDir, ...check } = options
  let store: HiveStore
  try {
    store = await openHiveStore({
      dataDir,
      cache: false,
      allowDamaged: true,
      ...(options.now ? { now: options.now } : {}),
    })
  } catch (error) {
    if (!isHiveStorageError(error, 'DATABASE_CORRUPT', 'NOT_A_DATABASE')) throw error
    const problem: CheckProblem = {
      kind: 'database-unreadable',
      message:
        error.code === 'NOT_A_DATABASE'
          ? `${error.message}: nothing in it is readable; restore a backup or a snapshot, or start over with \`hive recover --force\` (see docs/recovery.md)`
          : `${error.message}: run \`hive recover\` (see docs/recovery.md)`,
      details: { code: error.code, error: error.message },
    }
    markDamaged(dataDirLayout(dataDir).root, {
      foundAt: (options.now ?? Date.now)(),
      by: 'hive check',
      problem: error.message,
    })
    return {
      ok: false,
      dataDir: dataDirLayout(dataDir).root,
      full: options.full ?? false,
      sample: options.sample ? { verified: 0, of: 0 } : 'all',
      problems: [problem],
      found: [problem],
      repaired: [],
      orphans: { files: [], rows: [] },
      stats: { artifacts: 0, artifactsMissing: 0, blobFiles: 0, blobsVerified: 0, searchDocuments: 0 },
      durationMs: Math.round(performance.now() - started),
    }
  }
  try {
    return await checkStore(store, check)
  } finally {
    await store.close()
  }
}
