import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { HiveStorageError } from '@hive/errors'
import Sqlite from 'better-sqlite3'
import { quickCheck } from './integrity.js'
import { toHiveStorageError } from './sqlite-error.js'

export interface SnapshotResult {
  readonly path: string
  readonly bytes: number
  readonly durationMs: number
}

/** fsync of a file or directory by path. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Writes a consistent, compacted copy of the database at `databasePath` to `destination` with
 * `VACUUM INTO`, through a read connection of its own: it sees the last committed state and never
 * blocks writers (WAL). The copy appears atomically (temp file, fsync, rename, fsync of the
 * directory) with mode 0600; an existing `destination` is refused.
 *
 * @example
 * ```ts
 * snapshotDatabase('/data/hive.db', '/data/snapshots/before-upgrade.db')
 * ```
 */
export function snapshotDatabase(databasePath: string, destination: string): SnapshotResult {
  const started = performance.now()
  const target = resolve(destination)
  if (statOrNull(target) !== null) {
    throw new HiveStorageError('SNAPSHOT_FAILED', `snapshot ${target} already exists`, { value: target })
  }
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  let source: Sqlite.Database | undefined
  try {
    source = new Sqlite(databasePath, { readonly: true, fileMustExist: true })
    source.prepare('VACUUM INTO ?').run(temporary)
    source.close()
    source = undefined
    chmodSync(temporary, 0o600)
    fsyncPath(temporary)
    renameSync(temporary, target)
    fsyncPath(dirname(target))
  } catch (error) {
    source?.close()
    rmSync(temporary, { force: true })
    const cause = toHiveStorageError(error, `snapshot of ${databasePath}`)
    throw new HiveStorageError('SNAPSHOT_FAILED', `cannot snapshot ${databasePath}: ${cause.message}`, {
      value: target,
      cause,
    })
  }
  return { path: target, bytes: statSync(target).size, durationMs: performance.now() - started }
}

/**
 * Replaces the content of the live database at `databasePath` with the snapshot at
 * `snapshotPath`, through SQLite's online backup API: it takes the write lock, so other
 * connections (other processes included) see either the old or the new content, never a mix,
 * and reload their schema. The snapshot is checked (`quick_check`) before anything is written.
 */
export async function restoreDatabase(snapshotPath: string, databasePath: string): Promise<SnapshotResult> {
  const started = performance.now()
  let source: Sqlite.Database
  try {
    source = new Sqlite(snapshotPath, { readonly: true, fileMustExist: true })
  } catch (error) {
    throw new HiveStorageError('SNAPSHOT_FAILED', `cannot open snapshot ${snapshotPath}`, {
      value: snapshotPath,
      cause: toHiveStorageError(error, snapshotPath),
    })
  }
  try {
    const check = quickCheck(source)
    if (!check.ok) {
      throw new HiveStorageError(
        'SNAPSHOT_FAILED',
        `snapshot ${snapshotPath} is damaged: ${check.problems[0]}`,
        {
          value: snapshotPath,
        },
      )
    }
    await source.backup(databasePath)
  } catch (error) {
    if (error instanceof HiveStorageError) throw error
    throw new HiveStorageError('SNAPSHOT_FAILED', `cannot restore ${snapshotPath} into ${databasePath}`, {
      value: snapshotPath,
      cause: toHiveStorageError(error, databasePath),
    })
  } finally {
    source.close()
  }
  return {
    path: resolve(databasePath),
    bytes: statSync(databasePath).size,
    durationMs: performance.now() - started,
  }
}

function statOrNull(path: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(path)
  } catch {
    return null
  }
}
