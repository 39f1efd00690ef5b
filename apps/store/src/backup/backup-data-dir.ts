import { createHash, randomBytes } from 'node:crypto'
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { copyFile, link } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { fsyncPath, openDatabase, snapshotDatabase } from '@hive/sqlite'
import { ensureDataDir } from '../data-dir.js'
import { type ProgressListener, reporter } from '../progress.js'
import { BACKUP_FORMAT, BACKUP_MANIFEST, type BackupManifest } from './backup-manifest.js'

export interface BackupOptions {
  /** The data directory to back up (it may be in use: the copy is consistent). */
  readonly dataDir: string
  /** Where the backup goes: a directory that must not exist yet (its parent must). */
  readonly destination: string
  /**
   * Copy blob files instead of hard-linking them. A hard link costs no space but shares the
   * file with the data directory: on the same disk, a backup guards against mistakes and bad
   * upgrades, not against the disk failing. (Another file system always gets copies.)
   */
  readonly copy?: boolean
  readonly onProgress?: ProgressListener
  readonly now?: () => number
}

export interface BackupResult {
  readonly path: string
  readonly manifest: BackupManifest
  /** Blob files hard-linked (same file system: no space used) and copied. */
  readonly linked: number
  readonly copied: number
}

/**
 * Backs up a data directory, online: the database through `VACUUM INTO` on a read connection of
 * its own (a consistent state; writers go on meanwhile), then every blob that state refers to,
 * hard-linked when on the same file system (blob files are immutable) or copied, then a manifest
 * with the database's SHA-256. The backup appears under its name only when complete.
 *
 * @example
 * ```ts
 * const { manifest } = await backupDataDir({ dataDir, destination: '/backups/hive-2026-11-26' })
 * ```
 */
export async function backupDataDir(options: BackupOptions): Promise<BackupResult> {
  const progress = reporter(options.onProgress)
  const now = options.now ?? Date.now
  const layout = ensureDataDir(options.dataDir, { create: false, writable: false })
  if (!existsSync(layout.database)) {
    throw new HiveStorageError('NOT_FOUND', `there is no database in ${layout.root}`, { value: layout.root })
  }
  const destination = resolve(options.destination)
  if (existsSync(destination)) {
    throw new HiveStorageError(
      'CONFLICT',
      `${destination} exists already: a backup goes to a new directory`,
      {
        value: destination,
      },
    )
  }
  if (!existsSync(dirname(destination))) {
    throw new HiveStorageError('NOT_FOUND', `the directory ${dirname(destination)} does not exist`, {
      value: destination,
    })
  }
  const staging = join(
    dirname(destination),
    `.${basename(destination)}.${randomBytes(6).toString('hex')}.partial`,
  )
  try {
    mkdirSync(staging, { mode: 0o700 })
    const source = new BlobStore({ root: layout.blobs })
    const blobRoot = join(staging, 'blobs')
    // Hard links first, to every blob file there is: a gc that collects one after the snapshot
    // (its artifact deleted meanwhile) cannot take it from the backup any more. New blobs, made
    // after this, are young: gc's grace period keeps them until they are linked below.
    const prelinked = new Map<string, string>()
    if (!options.copy) {
      for await (const blob of source.list()) {
        const to = join(blobRoot, relative(layout.blobs, blob.path))
        mkdirSync(dirname(to), { recursive: true, mode: 0o700 })
        try {
          await link(blob.path, to)
          prelinked.set(blob.hash, to)
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code === 'ENOENT') continue // collected just now: not in the snapshot either
          break // another file system, or no links: copies below
        }
      }
    }
    progress({ phase: 'database', done: 0, total: 1 })
    const database = join(staging, 'hive.db')
    snapshotDatabase(layout.database, database)
    const { hashes, schemaVersion } = readSnapshot(database)
    progress({ phase: 'database', done: 1, total: 1 })
    // What the snapshot does not refer to goes (garbage, or artifacts deleted before it).
    const wanted = new Set(hashes)
    for (const [hash, path] of prelinked) {
      if (wanted.has(hash)) continue
      rmSync(path, { force: true })
      prelinked.delete(hash)
    }
    for (const dir of directoriesUnder(blobRoot).reverse()) {
      if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true })
    }

    let linked = 0
    let copied = 0
    let bytes = 0
    const missing: string[] = []
    for (const [index, hash] of hashes.entries()) {
      progress({ phase: 'blobs', done: index, total: hashes.length, bytes })
      const already = prelinked.get(hash)
      if (already) {
        linked += 1
        bytes += statSync(already).size
        continue
      }
      let from: string
      try {
        from = (await source.stat(hash)).path
      } catch (error) {
        if (!isHiveStorageError(error, 'NOT_FOUND')) throw error
        missing.push(hash)
        continue
      }
      const to = join(blobRoot, relative(layout.blobs, from))
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 })
      try {
        if (options.copy) throw new Error('copies asked for')
        await link(from, to)
        linked += 1
      } catch {
        // Another file system, or links not allowed: a copy.
        await copyFile(from, to)
        fsyncPath(to)
        copied += 1
      }
      bytes += statSync(to).size
    }
    progress({ phase: 'blobs', done: hashes.length, total: hashes.length, bytes })
    for (const dir of directoriesUnder(blobRoot)) fsyncPath(dir)

    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: 1,
      createdAt: now(),
      source: layout.root,
      schemaVersion,
      database: { file: 'hive.db', bytes: statSync(database).size, sha256: await sha256File(database) },
      blobs: { count: hashes.length - missing.length, bytes, missing },
    }
    writeFileSync(join(staging, BACKUP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 })
    fsyncPath(join(staging, BACKUP_MANIFEST))
    fsyncPath(staging)
    renameSync(staging, destination)
    fsyncPath(dirname(destination))
    return { path: destination, manifest, linked, copied }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new HiveStorageError('DISK_FULL', `no space left for the backup in ${dirname(destination)}`, {
        value: destination,
        cause: error,
      })
    }
    throw error
  }
}

/** The blobs a database snapshot refers to, and its schema version. */
function readSnapshot(path: string): { hashes: string[]; schemaVersion: string | null } {
  const database = openDatabase(path, { readonly: true, create: false })
  try {
    const hashes = database.sqlite
      .prepare("SELECT DISTINCT blob_hash FROM artifacts WHERE status = 'available' ORDER BY blob_hash")
      .pluck()
      .all() as string[]
    const schemaVersion =
      (database.sqlite.prepare('SELECT max(name) FROM hive_migrations').pluck().get() as string | null) ??
      null
    return { hashes, schemaVersion }
  } finally {
    database.close()
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function directoriesUnder(root: string): string[] {
  if (!existsSync(root)) return []
  const out = [root]
  for (const entry of readdirSync(root, { withFileTypes: true }))
    if (entry.isDirectory()) out.push(...directoriesUnder(join(root, entry.name)))
  return out
}
