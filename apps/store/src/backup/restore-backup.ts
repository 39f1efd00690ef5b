import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { copyFile, link } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { type ErrorCode, HiveStorageError, isHiveStorageError, parseInput } from '@hive/errors'
import { HIVE_MIGRATION_NAMES } from '@hive/migrations'
import { fsyncPath, integrityCheck, openDatabase } from '@hive/sqlite'
import { ensureDataDir } from '../data-dir.js'
import { DataDirMigrations, type RestoreReport } from '../data-dir-migrations.js'
import { type ProgressListener, reporter } from '../progress.js'
import { sha256File } from './backup-data-dir.js'
import { BACKUP_MANIFEST, type BackupManifest, backupManifestSchema } from './backup-manifest.js'

/** Something wrong with a backup, with the error code it would fail a restore with. */
export interface BackupProblem {
  readonly code: ErrorCode
  readonly message: string
}

export interface BackupVerification {
  readonly ok: boolean
  readonly path: string
  readonly manifest: BackupManifest
  readonly problems: readonly BackupProblem[]
  /** Blobs the source itself lacked when it was backed up (listed in the manifest). */
  readonly knownMissing: readonly string[]
  readonly blobsVerified: number
}

/**
 * Verifies a backup made by {@link backupDataDir} without changing it: the manifest, the
 * database's SHA-256 and `integrity_check`, a schema this version knows, and every blob the
 * database refers to present and intact (decompressed and hashed). A directory that is not a
 * backup at all is an `INVALID_INPUT` error; a damaged backup is a result with problems.
 */
export async function verifyBackup(
  path: string,
  options: { onProgress?: ProgressListener } = {},
): Promise<BackupVerification> {
  const progress = reporter(options.onProgress)
  const root = resolve(path)
  const manifest = readManifest(root)
  const problems: BackupProblem[] = []
  const database = join(root, manifest.database.file)
  let hashes: string[] = []
  progress({ phase: 'database', done: 0, total: 1 })
  if (!existsSync(database)) {
    problems.push({ code: 'NOT_FOUND', message: `the backup has no ${manifest.database.file}` })
  } else if ((await sha256File(database)) !== manifest.database.sha256) {
    problems.push({
      code: 'DATABASE_CORRUPT',
      message: `${manifest.database.file} does not match the SHA-256 in ${BACKUP_MANIFEST}: it changed since the backup`,
    })
  } else {
    try {
      const opened = openDatabase(database, { readonly: true, create: false })
      try {
        const check = integrityCheck(opened.sqlite)
        if (!check.ok)
          problems.push({ code: 'DATABASE_CORRUPT', message: `integrity_check: ${check.problems[0]}` })
        else
          hashes = opened.sqlite
            .prepare("SELECT DISTINCT blob_hash FROM artifacts WHERE status = 'available' ORDER BY blob_hash")
            .pluck()
            .all() as string[]
      } finally {
        opened.close()
      }
    } catch (error) {
      if (!isHiveStorageError(error)) throw error
      problems.push({ code: error.code, message: error.message })
    }
  }
  if (manifest.schemaVersion !== null && !HIVE_MIGRATION_NAMES.includes(manifest.schemaVersion)) {
    problems.push({
      code: 'DATABASE_TOO_NEW',
      message: `the backup's schema ${manifest.schemaVersion} is unknown to this version of Hive (newer?)`,
    })
  }
  progress({ phase: 'database', done: 1, total: 1 })
  const blobs = new BlobStore({ root: join(root, 'blobs') })
  const knownMissing = new Set(manifest.blobs.missing)
  let blobsVerified = 0
  for (const [index, hash] of hashes.entries()) {
    progress({ phase: 'blobs', done: index, total: hashes.length })
    if (knownMissing.has(hash)) continue
    try {
      const result = await blobs.verify(hash)
      if (result.ok) blobsVerified += 1
      else problems.push({ code: 'BLOB_CORRUPT', message: `blob ${hash}: ${result.problem}` })
    } catch (error) {
      if (!isHiveStorageError(error, 'NOT_FOUND')) throw error
      problems.push({ code: 'NOT_FOUND', message: `blob ${hash} is missing from the backup` })
    }
  }
  progress({ phase: 'blobs', done: hashes.length, total: hashes.length })
  return {
    ok: problems.length === 0,
    path: root,
    manifest,
    problems,
    knownMissing: [...knownMissing],
    blobsVerified,
  }
}

export interface RestoreBackupOptions {
  /** The data directory restored into. */
  readonly dataDir: string
  /** Create the data directory when missing (default false: a mistyped path fails). */
  readonly create?: boolean
  /** The backup directory. */
  readonly from: string
  readonly onProgress?: ProgressListener
  readonly now?: () => number
}

export interface RestoreBackupResult {
  readonly verification: BackupVerification
  /** Blob files put into the data directory (the others were there already). */
  readonly blobsAdded: number
  /** The database's restore: the safety snapshot of what was there, or where a damaged file went. */
  readonly database: RestoreReport
}

/**
 * Restores a backup into a data directory: verifies it whole first (nothing is touched when it
 * fails), puts its blobs in place (before the database, so that no row ever names a missing
 * blob), then replaces the database through SQLite's backup API after snapshotting the current
 * one (`snapshots/…-pre-restore-…`; a damaged one is moved to `quarantine/`). Stop the Hive
 * server first: the database changes under it otherwise.
 */
export async function restoreBackup(options: RestoreBackupOptions): Promise<RestoreBackupResult> {
  const progress = reporter(options.onProgress)
  const verification = await verifyBackup(options.from, { onProgress: options.onProgress ?? (() => {}) })
  const first = verification.problems[0]
  if (first) {
    const more = verification.problems.length > 1 ? ` (and ${verification.problems.length - 1} more)` : ''
    throw new HiveStorageError(
      first.code,
      `the backup ${verification.path} fails verification: ${first.message}${more}`,
      {
        value: verification.problems,
      },
    )
  }
  const layout = ensureDataDir(options.dataDir, { create: options.create ?? false, writable: true })
  const source = join(verification.path, 'blobs')
  const sourceBlobs = new BlobStore({ root: source })
  const target = new BlobStore({ root: layout.blobs })
  const all: Array<{ hash: string; path: string }> = []
  for await (const blob of sourceBlobs.list()) all.push({ hash: blob.hash, path: blob.path })
  let blobsAdded = 0
  for (const [index, blob] of all.entries()) {
    progress({ phase: 'blobs', done: index, total: all.length })
    if (await target.has(blob.hash)) continue
    const to = join(layout.blobs, relative(source, blob.path))
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 })
    const temporary = `${to}.${randomBytes(6).toString('hex')}.restore.tmp`
    try {
      try {
        await link(blob.path, temporary)
      } catch {
        await copyFile(blob.path, temporary)
        fsyncPath(temporary)
      }
      renameSync(temporary, to)
    } catch (error) {
      rmSync(temporary, { force: true })
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new HiveStorageError('DISK_FULL', `no space left to restore blobs into ${layout.blobs}`, {
          value: layout.blobs,
          cause: error,
        })
      }
      throw error
    }
    fsyncPath(dirname(to))
    blobsAdded += 1
  }
  progress({ phase: 'database', done: 0, total: 1 })
  const database = await DataDirMigrations.restore({
    dataDir: layout.root,
    file: join(verification.path, verification.manifest.database.file),
    ...(options.now ? { now: options.now } : {}),
  })
  progress({ phase: 'database', done: 1, total: 1 })
  return { verification, blobsAdded, database }
}

function readManifest(root: string): BackupManifest {
  const path = join(root, BACKUP_MANIFEST)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `${root} is not a Hive backup: it has no ${BACKUP_MANIFEST}`,
      {
        value: root,
        cause,
      },
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new HiveStorageError('INVALID_INPUT', `${path} is not valid JSON`, { value: path, cause })
  }
  if (
    typeof value === 'object' &&
    value !== null &&
    (value as { format?: unknown }).format === 'hive-backup' &&
    (value as { version?: unknown }).version !== 1
  ) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `${path} is a backup format version ${String((value as { version?: unknown }).version)} that this version of Hive does not know`,
      { value: path },
    )
  }
  return parseInput(backupManifestSchema, value, 'backup manifest')
}
