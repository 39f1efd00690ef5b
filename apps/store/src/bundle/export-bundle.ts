import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { HiveStorageError, isHiveStorageError, parseInput } from '@hive/errors'
import { HISTORY_TABLE } from '@hive/migrations'
import { idSchema } from '@hive/schema'
import type BetterSqlite3 from 'better-sqlite3'
import tar from 'tar-stream'
import { z } from 'zod'
import { openHiveDatabase } from '../hive-database.js'
import { trackOperation } from '../operations/track-operation.js'
import { fanOut, type ProgressListener, reporter } from '../progress.js'
import type { HiveStore } from '../store.js'
import { blobPath, MANIFEST_PATH, rowsPath } from './bundle-entry.js'
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, type BundleManifest } from './bundle-manifest.js'
import { BUNDLE_TABLES, type BundleTableName } from './bundle-tables.js'
import { ioError } from './io-error.js'
import { openOutputSink } from './output-sink.js'

export interface ExportBundleOptions {
  /** The cells to export (with everything that belongs to them). Give these or `workspaceId`. */
  readonly cellIds?: readonly string[]
  /** A whole workspace: its row and all its cells. */
  readonly workspaceId?: string
  /**
   * Where the bundle goes: a file path (written aside and renamed when complete, so a failure
   * leaves nothing under that name; devices and FIFOs are written directly) or a stream.
   */
  readonly output: string | NodeJS.WritableStream
  /** End a stream `output` when done (default true; false for standard output). */
  readonly end?: boolean
  readonly onProgress?: ProgressListener
}

export interface ExportBundleResult {
  readonly formatVersion: number
  /** The latest migration applied to the store: the bundle's rows are in this schema. */
  readonly schemaVersion: string
  readonly cellIds: readonly string[]
  /** Rows written per table. */
  readonly counts: Readonly<Record<BundleTableName, number>>
  /** Blob files written, and their bytes (as stored, compressed). */
  readonly blobs: number
  readonly blobBytes: number
  /**
   * Blobs exported as a row only: their files are gone from the store, and every exported
   * artifact that uses them is marked missing (as `hive check --repair` leaves them).
   */
  readonly missingBlobs: number
  /** Tar entries, the manifest included. */
  readonly entries: number
  /** Bytes of the bundle. */
  readonly bytes: number
}

const scopeSchema = z
  .object({
    cellIds: z.array(idSchema('cell')).min(1).max(100_000).optional(),
    workspaceId: idSchema('workspace').optional(),
  })
  .refine((scope) => (scope.cellIds === undefined) !== (scope.workspaceId === undefined), {
    message: 'give cells or a workspace to export, not both',
  })

/** Rows are written to the tar in pieces of about this size. */
const PIECE_BYTES = 256 * 1024
const ENTRY_MODE = 0o600

/**
 * Writes the cells of a store (some cells, or a whole workspace) as a bundle: a standard tar
 * holding their rows as JSON lines (`rows/<table>.jsonl`), the blob files their artifacts refer
 * to, byte for byte as stored (`blobs/sha256/ab/<hash>[.lz4]`), and last `manifest.json` with the
 * format and schema versions, counts, and the SHA-256 of every entry. A blob whose file is gone
 * and whose artifacts are all marked missing (by `hive check --repair`) is exported as its row
 * only; a missing file that an available artifact needs fails the export (`NOT_FOUND`). Rows are read in one
 * snapshot on a connection of their own, and everything streams: memory stays bounded however
 * large the cells are. Import it with {@link importBundle}.
 *
 * @example
 * ```ts
 * const result = await exportBundle(store, { cellIds: [cell.id], output: 'cell.hive.tar' })
 * console.log(result.counts.messages, result.blobs)
 * ```
 */
export async function exportBundle(
  store: HiveStore,
  options: Parameters<typeof exportBundleUntracked>[1],
): ReturnType<typeof exportBundleUntracked> {
  return trackOperation(
    store,
    'export',
    (progress) =>
      exportBundleUntracked(store, {
        ...options,
        onProgress: fanOut(progress, options?.onProgress),
      } as typeof options),
    (result) => result,
  )
}

/** {@link exportBundle} without its operation record. */
async function exportBundleUntracked(
  store: HiveStore,
  options: ExportBundleOptions,
): Promise<ExportBundleResult> {
  const scope = parseInput(
    scopeSchema,
    {
      ...(options.cellIds === undefined ? {} : { cellIds: [...options.cellIds] }),
      ...(options.workspaceId === undefined ? {} : { workspaceId: options.workspaceId }),
    },
    'export scope',
  )
  const progress = reporter(options.onProgress)
  const createdAt = Date.now()
  // A connection of its own, in one read transaction: a consistent snapshot that writers of the
  // store (this process's or others') are not held up by, however long the export streams.
  const reader = openHiveDatabase(store.layout.database, { readonly: true, create: false })
  try {
    reader.sqlite.exec('BEGIN')
    const schemaVersion = reader.sqlite
      .prepare(`SELECT name FROM ${HISTORY_TABLE} ORDER BY name DESC LIMIT 1`)
      .pluck()
      .get() as string | undefined
    if (schemaVersion === undefined) {
      throw new HiveStorageError('INTERNAL', `${store.layout.database} has no applied migrations`)
    }
    const cellIds = selectCells(reader.sqlite, scope)
    const params = { cells: JSON.stringify(cellIds), workspace: scope.workspaceId ?? null }

    // Tar headers hold sizes: a first pass over the snapshot measures each table's lines.
    const sizes = new Map<BundleTableName, { rows: number; bytes: number }>()
    let totalRows = 0
    for (const table of BUNDLE_TABLES) {
      let rows = 0
      let bytes = 0
      for (const row of reader.sqlite.prepare(table.query).iterate(params)) {
        rows += 1
        bytes += Buffer.byteLength(JSON.stringify(row)) + 1
        // A long count must not hold up the event loop of the process that embeds the store.
        if (rows % 5000 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
      }
      sizes.set(table.name, { rows, bytes })
      totalRows += rows
      progress({ phase: 'counting', done: totalRows })
    }

    const sink = await openOutputSink(options.output, { end: options.end ?? true })
    const pack = tar.pack()
    let bytes = 0
    let outputError: unknown
    let aborting = false
    const pump = (async () => {
      for await (const chunk of pack as AsyncIterable<Buffer>) {
        bytes += chunk.length
        await sink.write(chunk)
      }
    })().catch((error) => {
      if (!aborting) outputError = error
      pack.destroy(error)
    })
    const entries: Array<{ path: string; size: number; sha256: string }> = []
    const mtime = new Date(createdAt)
    const add = async (
      path: string,
      size: number,
      body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    ) => {
      entries.push({ path, size, sha256: await writeEntry(pack, { name: path, size, mtime }, body) })
    }
    try {
      const counts = {} as Record<BundleTableName, number>
      const hashes: string[] = []
      let doneRows = 0
      for (const table of BUNDLE_TABLES) {
        const size = sizes.get(table.name) as { rows: number; bytes: number }
        counts[table.name] = size.rows
        const statement = reader.sqlite.prepare(table.query)
        await add(
          rowsPath(table.name),
          size.bytes,
          lines(statement, params, (row) => {
            if (table.name === 'blobs') hashes.push((row as { hash: string }).hash)
            doneRows += 1
            if (doneRows % 1000 === 0) progress({ phase: 'rows', done: doneRows, total: totalRows })
          }),
        )
        progress({ phase: 'rows', done: doneRows, total: totalRows })
      }
      let blobBytes = 0
      let blobFiles = 0
      let missingBlobs = 0
      // Whether an exported artifact still counts on a blob (the snapshot's view).
      const needed = reader.sqlite
        .prepare(
          `SELECT 1 FROM artifacts WHERE blob_hash = @hash AND status != 'missing'
             AND cell_id IN (SELECT value FROM json_each(@cells)) LIMIT 1`,
        )
        .pluck()
      for (const [index, hash] of hashes.entries()) {
        let info: Awaited<ReturnType<HiveStore['blobs']['stat']>>
        try {
          info = await store.blobs.stat(hash)
        } catch (error) {
          if (!isHiveStorageError(error, 'NOT_FOUND')) throw error
          if (needed.get({ hash, cells: params.cells }) === undefined) {
            // Its artifacts are marked missing (quarantined by a repair): the row goes, no file.
            missingBlobs += 1
            progress({ phase: 'blobs', done: index + 1, total: hashes.length, bytes: blobBytes })
            continue
          }
          throw new HiveStorageError(
            'NOT_FOUND',
            `blob ${hash}, which an exported artifact refers to, is missing from ${store.blobs.root} (see \`hive check\`)`,
            { value: hash, cause: error },
          )
        }
        await add(blobPath(hash, info.encoding), info.storedSize, readFile(info.path))
        blobBytes += info.storedSize
        blobFiles += 1
        progress({ phase: 'blobs', done: index + 1, total: hashes.length, bytes: blobBytes })
      }
      const manifest: BundleManifest = {
        format: BUNDLE_FORMAT,
        formatVersion: BUNDLE_FORMAT_VERSION,
        schemaVersion,
        createdAt,
        scope: scope.workspaceId === undefined ? { cells: cellIds } : { workspace: scope.workspaceId },
        counts,
        blobs: blobFiles,
        entries,
      }
      const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)
      await writeEntry(pack, { name: MANIFEST_PATH, size: text.length, mtime }, [text])
      pack.finalize()
      await pump
      if (outputError !== undefined) throw outputError
      await sink.close()
      return {
        formatVersion: BUNDLE_FORMAT_VERSION,
        schemaVersion,
        cellIds,
        counts,
        blobs: blobFiles,
        blobBytes,
        missingBlobs,
        entries: entries.length + 1,
        bytes,
      }
    } catch (error) {
      aborting = true
      pack.destroy()
      await pump
      await sink.abort()
      // A failing output (a full disk) also makes the tar writer fail: report the cause.
      throw outputError ?? error
    }
  } finally {
    if (reader.sqlite.inTransaction) reader.sqlite.exec('COMMIT')
    reader.close()
  }
}

/** The ids of the cells to export, sorted; every one asked for must exist. */
function selectCells(
  sqlite: BetterSqlite3.Database,
  scope: { cellIds?: string[] | undefined; workspaceId?: string | undefined },
): string[] {
  if (scope.workspaceId !== undefined) {
    if (!sqlite.prepare('SELECT 1 FROM workspaces WHERE id = ?').get(scope.workspaceId)) {
      throw new HiveStorageError('NOT_FOUND', `there is no workspace ${scope.workspaceId}`, {
        value: scope.workspaceId,
      })
    }
    return sqlite
      .prepare('SELECT id FROM cells WHERE workspace_id = ? ORDER BY id')
      .pluck()
      .all(scope.workspaceId) as string[]
  }
  const wanted = [...new Set(scope.cellIds ?? [])].sort()
  const found = new Set(
    sqlite
      .prepare('SELECT id FROM cells WHERE id IN (SELECT value FROM json_each(?))')
      .pluck()
      .all(JSON.stringify(wanted)) as string[],
  )
  const missing = wanted.filter((id) => !found.has(id))
  if (missing.length > 0) {
    throw new HiveStorageError(
      'NOT_FOUND',
      `there is no cell ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''}`,
      { value: missing },
    )
  }
  return wanted
}

/** A table's rows as JSON lines, in pieces. */
function* lines(
  statement: BetterSqlite3.Statement,
  params: Record<string, unknown>,
  onRow: (row: unknown) => void,
): Generator<Uint8Array> {
  let piece: string[] = []
  let pieceBytes = 0
  for (const row of statement.iterate(params)) {
    onRow(row)
    const line = `${JSON.stringify(row)}\n`
    piece.push(line)
    pieceBytes += line.length
    if (pieceBytes >= PIECE_BYTES) {
      yield Buffer.from(piece.join(''))
      piece = []
      pieceBytes = 0
    }
  }
  if (piece.length > 0) yield Buffer.from(piece.join(''))
}

async function* readFile(path: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer
  } catch (error) {
    throw ioError(error, `cannot read ${path}`, path)
  }
}

/** Writes one tar entry from `body`, with backpressure; returns the SHA-256 of its bytes. */
async function writeEntry(
  pack: tar.Pack,
  header: { name: string; size: number; mtime: Date },
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<string> {
  const hash = createHash('sha256')
  let entry!: NodeJS.WritableStream
  const finished = new Promise<void>((resolve, reject) => {
    entry = pack.entry({ ...header, type: 'file', mode: ENTRY_MODE }, (error) =>
      error ? reject(error) : resolve(),
    )
  })
  finished.catch(() => {})
  let written = 0
  for await (const chunk of body) {
    hash.update(chunk)
    written += chunk.length
    if (!entry.write(chunk)) {
      await Promise.race([new Promise((resolve) => entry.once('drain', resolve)), finished])
    }
  }
  if (written !== header.size) {
    throw new HiveStorageError(
      'INTERNAL',
      `${header.name} came to ${written} bytes, not the ${header.size} measured (it changed during the export)`,
    )
  }
  entry.end()
  await finished
  return hash.digest('hex')
}
