import { randomUUID } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import type { ReadableStream } from 'node:stream/web'
import { HiveStorageError, isHiveStorageError, parseInput } from '@hive/errors'
import lz4 from 'lz4-napi'
import { z } from 'zod'
import { type BlobFileHandle, type BlobFileSystem, nodeFileSystem } from './blob-file-system.js'
import { type BlobInput, chunksOf, PiecePool, piecesOf } from './blob-input.js'
import type { BlockCodec } from './block-codec.js'
import { contentTypeFor, isContentType } from './content-type.js'
import { type Hasher, type HashStream, inlineHasher } from './hasher.js'
import { errorCode, toIoError } from './io-error.js'
import { Lz4BlockCodec } from './lz4-block-codec.js'
import {
  END_MARK,
  FRAME_HEADER_BYTES,
  FRAME_TRAILER_BYTES,
  type FrameEntry,
  frameHeader,
  MAX_FRAME_CONTENT,
  parseFrame,
  parseSeekEntries,
  parseSeekFooter,
  SEEK_FOOTER_BYTES,
  SEEK_TABLE_MAGIC,
  seekTable,
} from './lz4-frame.js'
import { WorkerHasher } from './worker-hasher.js'

/** How a blob file holds its content. */
export type BlobEncoding = 'lz4-frames' | 'raw'

const HASH = /^[0-9a-f]{64}$/
/** How often a long write refreshes its temp file's time (well within gc's grace period). */
const TOUCH_EVERY_MS = 5 * 60 * 1000

const configSchema = z
  .object({
    /** The blob directory (`<data dir>/blobs`). */
    root: z.string().min(1),
    /** Where damaged blobs are moved (never deleted); `<root>/../quarantine` by default. */
    quarantine: z.string().min(1).optional(),
    /** Content per LZ4 frame: the unit of compression, range reads and memory. */
    frameSize: z
      .int()
      .min(4096)
      .max(MAX_FRAME_CONTENT)
      .default(1024 * 1024),
    /** Pieces in flight (written, being hashed) while writing. */
    pipelineDepth: z.int().min(1).max(16).default(4),
    /** Frames read and decompressed ahead of the consumer while reading. */
    readAhead: z.int().min(1).max(32).default(4),
    /** Store as is when the first frame compresses to more than this fraction of its size. */
    compressionThreshold: z.number().gt(0).max(1).default(0.9),
    /** fsync files and directories (turn off only for throwaway stores). */
    durable: z.boolean().default(true),
    /** Hash on a worker thread, beside (de)compression (by default when there is more than one CPU). */
    hashThread: z.boolean().default(availableParallelism() > 1),
  })
  .strict()

export type BlobStoreOptions = z.input<typeof configSchema>

export interface BlobStoreConfig extends BlobStoreOptions {
  /** File operations; `node:fs/promises` by default. */
  readonly fileSystem?: BlobFileSystem
  /** Block compression; lz4-napi by default. */
  readonly codec?: BlockCodec
  /** SHA-256; on a worker thread by default (see `hashThread`). */
  readonly hasher?: Hasher
  readonly now?: () => number
}

export interface PutOptions {
  /** Derives the content type when none is given (`build.log` → `text/plain; charset=utf-8`). */
  readonly name?: string
  readonly contentType?: string
  readonly signal?: AbortSignal
}

export interface PutResult {
  /** SHA-256 of the content: the blob's name. */
  readonly hash: string
  readonly size: number
  readonly storedSize: number
  readonly encoding: BlobEncoding
  readonly contentType: string
  /** The content was already stored: this call kept the existing file and wrote nothing. */
  readonly deduplicated: boolean
}

export interface BlobInfo {
  readonly hash: string
  readonly path: string
  readonly encoding: BlobEncoding
  /** Content bytes. */
  readonly size: number
  /** Bytes on disk. */
  readonly storedSize: number
  /** When the file was last written or reused (gc's grace period counts from here). */
  readonly modifiedAt: number
}

export interface ReadOptions {
  /** Bytes to read: from `offset`, `length` of them (to the end by default). */
  readonly range?: { readonly offset: number; readonly length?: number }
  /** Check the content against its hash (full reads only; default true). */
  readonly verify?: boolean
  /** Echoed back in the result, for serving: the blob store itself keeps no content types. */
  readonly contentType?: string
}

/** An opened blob: its metadata now, its bytes when a stream is taken. */
export interface BlobContent {
  readonly hash: string
  readonly encoding: BlobEncoding
  /** The whole blob's size. */
  readonly size: number
  /** The bytes this read delivers, `end` exclusive. */
  readonly range: { readonly start: number; readonly end: number }
  readonly length: number
  readonly contentType: string
  /** Whether the bytes are checked against the hash (full reads). */
  readonly verified: boolean
  /** A Node stream of the bytes; on a hash mismatch it fails with `BLOB_CORRUPT` before it ends. */
  stream(): Readable
  /** The same as a web `ReadableStream`. */
  webStream(): ReadableStream<Uint8Array>
  /** All the bytes in memory (verified before they are returned). */
  buffer(): Promise<Buffer>
}

export interface VerifyResult {
  readonly hash: string
  readonly ok: boolean
  /** What is wrong, when not ok. */
  readonly problem?: string
  /** Where the file went, when it was quarantined. */
  readonly quarantinedTo?: string
}

export interface VerifyProgress {
  readonly done: number
  readonly total: number
  readonly bytes: number
  readonly problems: number
}

export interface GcOptions {
  /** Whether a blob is still referenced (may query a database: it can return a promise). */
  readonly isLive: (hash: string) => boolean | Promise<boolean>
  /** Unreferenced blobs younger than this stay (in-flight writes); one hour by default. */
  readonly graceMs?: number
  /** Report what would go without removing anything. */
  readonly dryRun?: boolean
  readonly onProgress?: (progress: { scanned: number; removed: number }) => void
}

export interface GcResult {
  readonly dryRun: boolean
  readonly scanned: number
  readonly removed: ReadonlyArray<{ readonly hash: string; readonly bytes: number }>
  readonly bytesFreed: number
  /** Unreferenced blobs kept because they are younger than the grace period. */
  readonly keptYoung: number
  /** Leftovers of interrupted writes removed (or that would be). */
  readonly tempFiles: number
  readonly tempBytes: number
}

export interface BlobStats {
  readonly count: number
  /** Content bytes of all blobs. */
  readonly logicalBytes: number
  /** Bytes on disk. */
  readonly storedBytes: number
  /** `logicalBytes - storedBytes`. */
  readonly compressionSavedBytes: number
  /** Bytes not stored again because references share a blob (needs `references`). */
  readonly deduplicationSavedBytes: number
  readonly byEncoding: Readonly<Record<BlobEncoding, number>>
}

interface Located {
  readonly path: string
  readonly encoding: BlobEncoding
  readonly fileSize: number
  readonly modifiedAt: number
}

/**
 * A content-addressed store of blobs on disk: each blob is named by the SHA-256 of its content
 * and lives at `sha256/ab/<hash>` (stored as is) or `sha256/ab/<hash>.lz4` (a sequence of
 * standard LZ4 frames that `lz4 -dc` restores). Writes are atomic and durable, memory stays
 * bounded by the frame size, and the same content is stored once.
 *
 * @example
 * ```ts
 * const blobs = new BlobStore({ root: '/data/hive/blobs' })
 * const { hash } = await blobs.put(createReadStream('build.log'), { name: 'build.log' })
 * const content = await blobs.open(hash)
 * content.stream().pipe(process.stdout)
 * ```
 */
export class BlobStore {
  readonly #config: z.output<typeof configSchema> & { quarantine: string }
  readonly #fs: BlobFileSystem
  readonly #codec: BlockCodec
  readonly #hasher: Hasher
  readonly #now: () => number

  constructor(config: BlobStoreConfig) {
    const { fileSystem, codec, hasher, now, ...options } = config
    const parsed = parseInput(configSchema, options, 'blob store options')
    this.#config = { ...parsed, quarantine: parsed.quarantine ?? join(dirname(parsed.root), 'quarantine') }
    this.#fs = fileSystem ?? nodeFileSystem
    this.#codec = codec ?? new Lz4BlockCodec(lz4)
    this.#hasher = hasher ?? (this.#config.hashThread ? WorkerHasher.shared() : inlineHasher)
    this.#now = now ?? Date.now
  }

  get root(): string {
    return this.#config.root
  }

  /**
   * Stores content and returns its hash. The file appears under its final name only when
   * complete and synced; if the content is already stored, the existing file is kept
   * (`deduplicated: true`). On any failure nothing is left under a final name.
   */
  async put(input: BlobInput, options: PutOptions = {}): Promise<PutResult> {
    const contentType = options.contentType ?? contentTypeFor(options.name)
    if (!isContentType(contentType)) {
      throw new HiveStorageError('INVALID_INPUT', `invalid content type ${JSON.stringify(contentType)}`, {
        value: contentType,
      })
    }
    const tmpDir = join(this.#config.root, 'tmp')
    await this.#mkdir(tmpDir)
    const tmpPath = join(tmpDir, `${randomUUID()}.partial`)
    let handle: BlobFileHandle
    try {
      handle = await this.#fs.open(tmpPath, 'wx', 0o600)
    } catch (error) {
      throw toIoError(error, 'cannot create a blob file', tmpPath)
    }
    let written: { hash: string; size: number; storedSize: number; encoding: BlobEncoding }
    try {
      written = await this.#write(handle, input, options.signal, tmpPath)
      if (this.#config.durable) await handle.sync()
    } catch (error) {
      await handle.close().catch(() => {})
      await this.#fs.unlink(tmpPath).catch(() => {})
      throw isHiveStorageError(error) ? error : toIoError(error, 'cannot write a blob', tmpPath)
    }
    try {
      await handle.close()
      const published = await this.#publish(tmpPath, written)
      return { ...written, ...published, contentType }
    } catch (error) {
      await this.#fs.unlink(tmpPath).catch(() => {})
      throw toIoError(error, 'cannot store a blob', written.hash)
    }
  }

  /** Whether a blob is stored. */
  async has(hash: string): Promise<boolean> {
    return (await this.#locate(hash)) !== undefined
  }

  /**
   * Marks a stored blob as in use now, as a `put` of the same content would (its file's time is
   * refreshed), so that a gc sweep racing with a new reference to it keeps it. Returns false when
   * the blob is not there (any more): then store the content again. Use it before writing a row
   * that names a blob you did not just put (an import, say).
   */
  async claim(hash: string): Promise<boolean> {
    const located = await this.#locate(hash)
    if (located === undefined) return false
    try {
      const now = this.#now()
      await this.#fs.utimes(located.path, now, now)
      return true
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false // swept just now
      throw toIoError(error, `cannot refresh ${located.path}`, located.path)
    }
  }

  /** Size, encoding and place of a blob, from its file's size and seek table (no content read). */
  async stat(hash: string): Promise<BlobInfo> {
    const located = await this.#mustLocate(hash)
    const size =
      located.encoding === 'raw' ? located.fileSize : (await this.#seekTable(located, hash, false)).total
    return {
      hash,
      path: located.path,
      encoding: located.encoding,
      size,
      storedSize: located.fileSize,
      modifiedAt: located.modifiedAt,
    }
  }

  /**
   * Opens a blob for reading, all of it or a range. Range reads decompress only the frames they
   * need. Full reads are verified against the hash unless `verify: false`.
   */
  async open(hash: string, options: ReadOptions = {}): Promise<BlobContent> {
    const located = await this.#mustLocate(hash)
    const table = located.encoding === 'raw' ? undefined : await this.#seekTable(located, hash, true)
    const size = table ? table.total : located.fileSize
    const offset = options.range?.offset ?? 0
    const length = options.range?.length ?? size - offset
    if (
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      offset > size ||
      !Number.isSafeInteger(length) ||
      length < 0
    ) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `range ${offset}+${length} is not within the blob's ${size} bytes`,
        {
          value: options.range,
        },
      )
    }
    const range = { start: offset, end: Math.min(size, offset + length) }
    const verified = (options.verify ?? true) && range.start === 0 && range.end === size
    const contentType = options.contentType ?? 'application/octet-stream'
    const chunks = () =>
      table
        ? this.#readFrames(located, hash, table.frames, range, verified)
        : this.#readRaw(located, hash, range, verified)
    return {
      hash,
      encoding: located.encoding,
      size,
      range,
      length: range.end - range.start,
      contentType,
      verified,
      stream: () => Readable.from(chunks(), { objectMode: false }),
      webStream: () =>
        Readable.toWeb(Readable.from(chunks(), { objectMode: false })) as ReadableStream<Uint8Array>,
      buffer: async () => {
        const parts: Buffer[] = []
        for await (const chunk of chunks()) parts.push(chunk)
        return Buffer.concat(parts)
      },
    }
  }

  /** Reads a whole blob and checks it against its hash; a damaged blob can be quarantined. */
  async verify(hash: string, options: { quarantine?: boolean } = {}): Promise<VerifyResult> {
    try {
      const content = await this.open(hash)
      for await (const _chunk of content.stream()) {
        // Reading is the check.
      }
      return { hash, ok: true }
    } catch (error) {
      if (!isHiveStorageError(error, 'BLOB_CORRUPT')) throw error
      const quarantinedTo = options.quarantine ? await this.quarantine(hash) : undefined
      return { hash, ok: false, problem: error.message, ...(quarantinedTo ? { quarantinedTo } : {}) }
    }
  }

  /** {@link BlobStore.verify} for every blob, reporting progress after each. */
  async verifyAll(
    options: {
      quarantine?: boolean
      onProgress?: (progress: VerifyProgress) => void
      signal?: AbortSignal
    } = {},
  ): Promise<{
    readonly checked: number
    readonly bytes: number
    readonly problems: readonly VerifyResult[]
  }> {
    const all: BlobInfo[] = []
    for await (const blob of this.list()) all.push(blob)
    const problems: VerifyResult[] = []
    let bytes = 0
    for (const [index, blob] of all.entries()) {
      if (options.signal?.aborted)
        throw new HiveStorageError('ABORTED', 'verification was cancelled', { cause: options.signal.reason })
      try {
        const result = await this.verify(
          blob.hash,
          options.quarantine === undefined ? {} : { quarantine: options.quarantine },
        )
        if (!result.ok) problems.push(result)
      } catch (error) {
        if (!isHiveStorageError(error, 'NOT_FOUND')) throw error // removed meanwhile (gc): nothing to check
      }
      bytes += blob.size
      options.onProgress?.({ done: index + 1, total: all.length, bytes, problems: problems.length })
    }
    return { checked: all.length, bytes, problems }
  }

  /** Moves a blob's file to the quarantine directory (never deletes it); returns where it went. */
  async quarantine(hash: string): Promise<string> {
    return this.#quarantineFile(await this.#mustLocate(hash), hash)
  }

  /** Moves exactly this file aside, under a name that never replaces another, and syncs both directories. */
  async #quarantineFile(located: Located, hash: string): Promise<string> {
    const directory = join(this.#config.quarantine, 'blobs')
    await this.#mkdir(directory)
    const target = join(directory, `${basename(located.path)}.${this.#now()}.${randomUUID().slice(0, 8)}`)
    try {
      await this.#fs.link(located.path, target)
      await this.#syncDirectory(directory)
      await this.#fs.unlink(located.path)
      await this.#syncDirectory(dirname(located.path))
    } catch (error) {
      throw toIoError(error, `cannot quarantine blob ${hash}`, hash)
    }
    return target
  }

  /** Every stored blob. Unreadable seek tables are reported with size -1 rather than stopping the walk. */
  async *list(): AsyncGenerator<BlobInfo> {
    for await (const located of this.#walk()) {
      const hash = located.path.slice(located.path.lastIndexOf('/') + 1).replace(/\.lz4$/, '')
      let size = located.fileSize
      if (located.encoding === 'lz4-frames') {
        try {
          size = (await this.#seekTable(located, hash, false)).total
        } catch (error) {
          if (isHiveStorageError(error, 'NOT_FOUND')) continue
          if (!isHiveStorageError(error, 'BLOB_CORRUPT')) throw error
          size = -1
        }
      }
      yield {
        hash,
        path: located.path,
        encoding: located.encoding,
        size,
        storedSize: located.fileSize,
        modifiedAt: located.modifiedAt,
      }
    }
  }

  /**
   * Mark and sweep: removes blobs that `isLive` does not claim and that are older than the grace
   * period, and leftovers of interrupted writes older than it. A blob reused by a `put` during
   * the sweep is put back, never lost.
   */
  async gc(options: GcOptions): Promise<GcResult> {
    const graceMs = options.graceMs ?? 60 * 60 * 1000
    if (!Number.isFinite(graceMs) || graceMs < 0) {
      throw new HiveStorageError('INVALID_INPUT', `graceMs must be zero or more, not ${graceMs}`, {
        value: graceMs,
      })
    }
    const dryRun = options.dryRun ?? false
    const cutoff = this.#now() - graceMs
    const removed: Array<{ hash: string; bytes: number }> = []
    let scanned = 0
    let keptYoung = 0
    for await (const located of this.#walk()) {
      scanned += 1
      const hash = located.path.slice(located.path.lastIndexOf('/') + 1).replace(/\.lz4$/, '')
      if (located.modifiedAt > cutoff) {
        if (!(await options.isLive(hash))) keptYoung += 1
      } else if (!(await options.isLive(hash))) {
        if (dryRun || (await this.#sweep(located, cutoff))) removed.push({ hash, bytes: located.fileSize })
      }
      // Every blob scanned, kept or not: a progress bar moves through the whole store.
      options.onProgress?.({ scanned, removed: removed.length })
    }
    const temp = await this.#sweepTemp(cutoff, dryRun)
    return {
      dryRun,
      scanned,
      removed,
      bytesFreed: removed.reduce((sum, r) => sum + r.bytes, 0),
      keptYoung,
      tempFiles: temp.files,
      tempBytes: temp.bytes,
    }
  }

  /**
   * Count and sizes of the stored blobs. `references` (hash → how many references share it)
   * adds the bytes that deduplication saved.
   */
  async stats(options: { references?: ReadonlyMap<string, number> } = {}): Promise<BlobStats> {
    let count = 0
    let logicalBytes = 0
    let storedBytes = 0
    let deduplicationSavedBytes = 0
    const byEncoding: Record<BlobEncoding, number> = { 'lz4-frames': 0, raw: 0 }
    for await (const blob of this.list()) {
      count += 1
      logicalBytes += Math.max(0, blob.size)
      storedBytes += blob.storedSize
      byEncoding[blob.encoding] += 1
      const references = options.references?.get(blob.hash) ?? 0
      if (references > 1) deduplicationSavedBytes += (references - 1) * Math.max(0, blob.size)
    }
    return {
      count,
      logicalBytes,
      storedBytes,
      compressionSavedBytes: logicalBytes - storedBytes,
      deduplicationSavedBytes,
      byEncoding,
    }
  }

  // ---- writing ----

  async #write(
    handle: BlobFileHandle,
    input: BlobInput,
    signal: AbortSignal | undefined,
    tmpPath: string,
  ): Promise<{ hash: string; size: number; storedSize: number; encoding: BlobEncoding }> {
    const { frameSize, pipelineDepth, compressionThreshold } = this.#config
    // gc removes temp files older than its grace period: a write whose input trickles in for a
    // long time keeps its temp file young.
    let touched = this.#now()
    const keepAlive = async () => {
      const now = this.#now()
      if (now - touched < TOUCH_EVERY_MS) return
      touched = now
      await this.#fs.utimes(tmpPath, now, now)
    }
    const hashing = this.#hasher.start()
    const pool = new PiecePool(frameSize)
    const frames: Array<{ fileBytes: number; contentBytes: number }> = []
    let encoding: BlobEncoding | undefined
    let size = 0
    let storedSize = 0
    const append = async (buffers: Buffer[]) => {
      const expected = buffers.reduce((sum, b) => sum + b.length, 0)
      const { bytesWritten } = await handle.writev(buffers)
      // A short write on a regular file means the device ran out of room.
      if (bytesWritten !== expected) {
        throw new HiveStorageError(
          'DISK_FULL',
          `the disk is full: wrote ${bytesWritten} of ${expected} bytes`,
        )
      }
      storedSize += expected
    }
    // The main thread compresses; writes go out one after another; each piece is hashed (on the
    // hashing thread) once written, since a raw piece or an uncompressed block is written from
    // the piece itself, and then goes back to the pool. Up to `pipelineDepth` pieces are in flight.
    let written: Promise<void> = Promise.resolve()
    const inFlight: Array<Promise<void>> = []
    try {
      for await (const piece of piecesOf(chunksOf(input), frameSize, pool)) {
        if (signal?.aborted) {
          throw new HiveStorageError('ABORTED', 'the write was cancelled', { cause: signal.reason })
        }
        size += piece.length
        await keepAlive()
        let buffers: Buffer[] = [piece]
        if (encoding !== 'raw') {
          const block = this.#codec.compress(piece).subarray(4)
          // The first piece decides: content that does not compress is stored as is.
          encoding ??= block.length > piece.length * compressionThreshold ? 'raw' : 'lz4-frames'
          if (encoding === 'lz4-frames') {
            const useBlock = block.length < piece.length
            const data = useBlock ? block : piece
            buffers = [frameHeader(piece.length, data.length, useBlock, frameSize), data, END_MARK]
            frames.push({
              fileBytes: FRAME_HEADER_BYTES + data.length + FRAME_TRAILER_BYTES,
              contentBytes: piece.length,
            })
          }
        }
        const write = written.then(() => append(buffers))
        written = write
        const task = write.then(() => hashing.update(piece)).then((back) => pool.release(back))
        task.catch(() => {}) // awaited below; never an unhandled rejection meanwhile
        inFlight.push(task)
        while (inFlight.length >= pipelineDepth) await inFlight.shift()
      }
      for (const task of inFlight.splice(0)) await task
      if (encoding === 'lz4-frames') await append([seekTable(frames)])
      return { hash: await hashing.digest(), size, storedSize, encoding: encoding ?? 'raw' }
    } catch (error) {
      hashing.discard()
      await Promise.allSettled(inFlight)
      throw error
    }
  }

  /**
   * Moves a finished temp file to its final name. `link` fails if the name exists, so exactly
   * one writer of the same content wins; the others keep the existing file. Returns whether the
   * content was already there.
   */
  async #publish(
    tmpPath: string,
    written: { hash: string; size: number; storedSize: number; encoding: BlobEncoding },
  ): Promise<{ deduplicated: boolean; storedSize: number; encoding: BlobEncoding }> {
    const { hash, encoding } = written
    const target = this.#pathOf(hash, encoding)
    await this.#mkdirDurably(dirname(target))
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.#locate(hash)
      if (existing !== undefined) {
        // Same name, another content size: the stored file is damaged (frame sizes may differ
        // between writers, so the file size alone proves nothing). Keep it aside, store ours.
        if ((await this.#contentSize(existing, hash)) !== written.size) {
          await this.#quarantineFile(existing, hash).catch((error) => {
            if (!isHiveStorageError(error, 'NOT_FOUND')) throw error
          })
          continue
        }
        // Mark it fresh, so a concurrent gc sweep puts it back instead of removing it.
        try {
          const now = this.#now()
          await this.#fs.utimes(existing.path, now, now)
        } catch (error) {
          if (errorCode(error) === 'ENOENT') continue // swept just now: store ours
          throw error
        }
        await this.#fs.unlink(tmpPath)
        // The writer that linked it may not have synced its directory yet.
        await this.#syncDirectory(dirname(existing.path))
        return { deduplicated: true, storedSize: existing.fileSize, encoding: existing.encoding }
      }
      try {
        await this.#fs.link(tmpPath, target)
      } catch (error) {
        if (errorCode(error) === 'EEXIST') continue // another writer won the race
        throw error
      }
      await this.#fs.unlink(tmpPath)
      await this.#syncDirectory(dirname(target))
      return { deduplicated: false, storedSize: written.storedSize, encoding }
    }
    throw new HiveStorageError('IO_ERROR', `cannot settle blob ${hash}: its file keeps changing`, {
      value: hash,
    })
  }

  /** The content size a stored file claims: its seek table's total, or its length; -1 if unreadable. */
  async #contentSize(located: Located, hash: string): Promise<number> {
    if (located.encoding === 'raw') return located.fileSize
    try {
      return (await this.#seekTable(located, hash, true)).total
    } catch (error) {
      if (isHiveStorageError(error, 'BLOB_CORRUPT')) return -1
      throw error
    }
  }

  // ---- reading ----

  async #seekTable(
    located: Located,
    hash: string,
    withFrames: boolean,
  ): Promise<{ total: number; frames: FrameEntry[] }> {
    const corrupt = (problem: string) =>
      new HiveStorageError('BLOB_CORRUPT', `blob ${hash} is damaged: ${problem}`, { value: hash })
    if (located.fileSize < SEEK_FOOTER_BYTES + 8) throw corrupt('it is too short to hold a seek table')
    const handle = await this.#openForRead(located.path, hash)
    try {
      const footer = await readExactly(handle, SEEK_FOOTER_BYTES, located.fileSize - SEEK_FOOTER_BYTES)
      const parsed = parseSeekFooter(footer)
      if (typeof parsed === 'string') throw corrupt(parsed)
      if (!withFrames) return { total: parsed.total, frames: [] }
      const entryBytes = parsed.count * 8
      const tableStart = located.fileSize - SEEK_FOOTER_BYTES - entryBytes
      if (tableStart < 8) throw corrupt('its seek table is longer than the file')
      // The skippable frame around the table must be well formed too (`lz4 -t` checks it).
      const table = await readExactly(handle, 8 + entryBytes, tableStart - 8)
      if (
        table.readUInt32LE(0) !== SEEK_TABLE_MAGIC ||
        table.readUInt32LE(4) !== entryBytes + SEEK_FOOTER_BYTES
      ) {
        throw corrupt('its seek table frame header is wrong')
      }
      const frames = parseSeekEntries(table.subarray(8), parsed.count, parsed.total, located.fileSize)
      if (typeof frames === 'string') throw corrupt(frames)
      return { total: parsed.total, frames }
    } catch (error) {
      throw isHiveStorageError(error) ? error : toIoError(error, `cannot read blob ${hash}`, hash)
    } finally {
      await handle.close().catch(() => {})
    }
  }

  async *#readFrames(
    located: Located,
    hash: string,
    frames: readonly FrameEntry[],
    range: { start: number; end: number },
    verify: boolean,
  ): AsyncGenerator<Buffer> {
    const first = frameIndexAt(frames, range.start)
    const selected =
      range.end > range.start ? frames.slice(first, frameIndexAt(frames, range.end - 1) + 1) : []
    const corrupt = (problem: string) =>
      new HiveStorageError('BLOB_CORRUPT', `blob ${hash} is damaged: ${problem}`, { value: hash })
    const handle = await this.#openForRead(located.path, hash)
    const check = verify ? new ContentCheck(this.#hasher, hash, corrupt) : undefined
    // File reads run ahead of the consumer on the thread pool; decompression is on this thread.
    const reads: Array<Promise<Buffer>> = []
    let next = 0
    const readAhead = () => {
      while (reads.length < this.#config.readAhead && next < selected.length) {
        const frame = selected[next++] as FrameEntry
        const read = readExactly(handle, frame.fileBytes, frame.fileOffset)
        read.catch(() => {})
        reads.push(read)
      }
    }
    const held: Array<Promise<Buffer>> = []
    try {
      if (selected.length === 0) await check?.finish()
      for (let i = 0; i < selected.length; i++) {
        readAhead()
        const frame = selected[i] as FrameEntry
        const bytes = await (reads.shift() as Promise<Buffer>)
        const parsed = parseFrame(bytes, frame.contentBytes)
        if (typeof parsed === 'string') throw corrupt(parsed)
        let content = bytes.subarray(parsed.blockStart, parsed.blockStart + parsed.blockBytes)
        if (parsed.compressed) {
          // The 4 bytes before the block (its size field) become the content size lz4-napi expects.
          bytes.writeUInt32LE(frame.contentBytes, parsed.blockStart - 4)
          try {
            content = this.#codec.decompress(
              bytes.subarray(parsed.blockStart - 4, parsed.blockStart + parsed.blockBytes),
            )
          } catch (error) {
            throw corrupt(`a block does not decompress (${(error as Error).message})`)
          }
          if (content.length !== frame.contentBytes) throw corrupt('a block decompresses to the wrong size')
        }
        if (check) {
          // A verified read is a whole one: the content goes to the hasher as it is (no copy) and
          // comes back to be yielded while the next frames decompress here. The last piece is
          // held back until the whole content is proven.
          held.push(check.hash(content))
          if (held.length > 2) yield await (held.shift() as Promise<Buffer>)
          if (i === selected.length - 1) {
            const rest = await Promise.all(held.splice(0))
            await check.finish()
            for (const piece of rest) yield piece
          }
          continue
        }
        const from = Math.max(range.start - frame.contentOffset, 0)
        const to = Math.min(range.end - frame.contentOffset, frame.contentBytes)
        yield from === 0 && to === content.length ? content : content.subarray(from, to)
      }
    } catch (error) {
      throw isHiveStorageError(error) ? error : toIoError(error, `cannot read blob ${hash}`, hash)
    } finally {
      check?.discard()
      await Promise.allSettled(held)
      await Promise.allSettled(reads)
      await handle.close().catch(() => {})
    }
  }

  async *#readRaw(
    located: Located,
    hash: string,
    range: { start: number; end: number },
    verify: boolean,
  ): AsyncGenerator<Buffer> {
    const corrupt = (problem: string) =>
      new HiveStorageError('BLOB_CORRUPT', `blob ${hash} is damaged: ${problem}`, { value: hash })
    const handle = await this.#openForRead(located.path, hash)
    const check = verify ? new ContentCheck(this.#hasher, hash, corrupt) : undefined
    try {
      if (range.end === range.start) await check?.finish()
      for (let at = range.start; at < range.end; at += this.#config.frameSize) {
        const length = Math.min(this.#config.frameSize, range.end - at)
        const bytes = await readExactly(handle, length, at)
        if (check) {
          const back = await check.hash(bytes)
          if (at + length >= range.end) await check.finish()
          yield back
          continue
        }
        yield bytes
      }
    } catch (error) {
      throw isHiveStorageError(error) ? error : toIoError(error, `cannot read blob ${hash}`, hash)
    } finally {
      check?.discard()
      await handle.close().catch(() => {})
    }
  }

  // ---- files ----

  #pathOf(hash: string, encoding: BlobEncoding): string {
    return join(this.#config.root, 'sha256', hash.slice(0, 2), encoding === 'raw' ? hash : `${hash}.lz4`)
  }

  async #locate(hash: string): Promise<Located | undefined> {
    if (typeof hash !== 'string' || !HASH.test(hash)) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `not a blob hash (64 lower-case hex digits): ${JSON.stringify(hash)}`,
        {
          value: hash,
        },
      )
    }
    for (const encoding of ['lz4-frames', 'raw'] as const) {
      const path = this.#pathOf(hash, encoding)
      try {
        const stat = await this.#fs.stat(path)
        if (stat.isFile()) return { path, encoding, fileSize: stat.size, modifiedAt: stat.mtimeMs }
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw toIoError(error, `cannot look up blob ${hash}`, hash)
      }
    }
    return undefined
  }

  async #mustLocate(hash: string): Promise<Located> {
    const located = await this.#locate(hash)
    if (!located) throw new HiveStorageError('NOT_FOUND', `there is no blob ${hash}`, { value: hash })
    return located
  }

  async #openForRead(path: string, hash: string): Promise<BlobFileHandle> {
    try {
      return await this.#fs.open(path, 'r')
    } catch (error) {
      if (errorCode(error) === 'ENOENT')
        throw new HiveStorageError('NOT_FOUND', `there is no blob ${hash}`, { value: hash })
      throw toIoError(error, `cannot open blob ${hash}`, hash)
    }
  }

  async *#walk(): AsyncGenerator<Located> {
    const base = join(this.#config.root, 'sha256')
    for (const fan of (await this.#readdir(base)).sort()) {
      if (!/^[0-9a-f]{2}$/.test(fan)) continue
      for (const name of (await this.#readdir(join(base, fan))).sort()) {
        const match = name.match(/^([0-9a-f]{64})(\.lz4)?$/)
        if (!match || !match[1]?.startsWith(fan)) continue
        const path = join(base, fan, name)
        try {
          const stat = await this.#fs.stat(path)
          if (stat.isFile()) {
            yield {
              path,
              encoding: match[2] ? 'lz4-frames' : 'raw',
              fileSize: stat.size,
              modifiedAt: stat.mtimeMs,
            }
          }
        } catch (error) {
          if (errorCode(error) !== 'ENOENT') throw toIoError(error, `cannot read ${path}`, path)
        }
      }
    }
  }

  /**
   * Removes one unreferenced blob without racing a `put` that reuses it: the file is first moved
   * aside (atomic), then its time is checked again; if a `put` touched it meanwhile it goes back.
   */
  async #sweep(located: Located, cutoff: number): Promise<boolean> {
    // The blob's file name is in the aside name, so a sweep cut short by a crash can be undone.
    const aside = join(this.#config.root, 'tmp', `${basename(located.path)}.${randomUUID()}.sweep`)
    try {
      await this.#fs.rename(located.path, aside)
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false
      throw toIoError(error, `cannot remove ${located.path}`, located.path)
    }
    const stat = await this.#fs.stat(aside)
    if (stat.mtimeMs > cutoff) {
      await this.#fs.link(aside, located.path).catch((error) => {
        if (errorCode(error) !== 'EEXIST') throw error
      })
      await this.#fs.unlink(aside)
      return false
    }
    await this.#fs.unlink(aside)
    await this.#syncDirectory(dirname(located.path))
    return true
  }

  async #sweepTemp(cutoff: number, dryRun: boolean): Promise<{ files: number; bytes: number }> {
    const dir = join(this.#config.root, 'tmp')
    let files = 0
    let bytes = 0
    for (const name of await this.#readdir(dir)) {
      const path = join(dir, name)
      try {
        const aside = name.match(/^([0-9a-f]{64}(?:\.lz4)?)\.[0-9a-f-]+\.sweep$/)
        if (aside) {
          // Left by a sweep that was interrupted: put the blob back (the next gc decides again).
          if (!dryRun) await this.#restoreAside(path, aside[1] as string)
          continue
        }
        const stat = await this.#fs.stat(path)
        if (!stat.isFile() || stat.mtimeMs > cutoff) continue
        if (!dryRun) await this.#fs.unlink(path)
        files += 1
        bytes += stat.size
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw toIoError(error, `cannot remove ${path}`, path)
      }
    }
    return { files, bytes }
  }

  async #restoreAside(aside: string, name: string): Promise<void> {
    const target = join(this.#config.root, 'sha256', name.slice(0, 2), name)
    await this.#mkdirDurably(dirname(target))
    await this.#fs.link(aside, target).catch((error) => {
      if (errorCode(error) !== 'EEXIST') throw error
    })
    await this.#syncDirectory(dirname(target))
    await this.#fs.unlink(aside)
  }

  async #readdir(path: string): Promise<string[]> {
    try {
      return await this.#fs.readdir(path)
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return []
      throw toIoError(error, `cannot list ${path}`, path)
    }
  }

  /** Creates a directory and its parents, and makes every new entry durable (fsync of each parent). */
  async #mkdirDurably(path: string): Promise<void> {
    let created: string | undefined
    try {
      created = await this.#fs.mkdir(path, { recursive: true, mode: 0o700 })
    } catch (error) {
      throw toIoError(error, `cannot create ${path}`, path)
    }
    if (created === undefined) return
    // Each new directory is an entry in its parent: sync the parents, from the deepest up.
    const top = dirname(created)
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      await this.#syncDirectory(dir)
      if (dir === top || dir === dirname(dir)) break
    }
  }

  /** Creates a directory (and parents, 0700); returns whether it had to. */
  async #mkdir(path: string): Promise<boolean> {
    try {
      return (await this.#fs.mkdir(path, { recursive: true, mode: 0o700 })) !== undefined
    } catch (error) {
      throw toIoError(error, `cannot create ${path}`, path)
    }
  }

  /** fsync of a directory: makes a rename or link in it durable. */
  async #syncDirectory(path: string): Promise<void> {
    if (!this.#config.durable) return
    const handle = await this.#fs.open(path, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}

/** Index of the frame holding content byte `offset` (binary search). */
function frameIndexAt(frames: readonly FrameEntry[], offset: number): number {
  let low = 0
  let high = frames.length - 1
  while (low < high) {
    const middle = (low + high + 1) >> 1
    if ((frames[middle] as FrameEntry).contentOffset <= offset) low = middle
    else high = middle - 1
  }
  return low
}

/** Reads exactly `length` bytes at `position`, or fails as a truncated file. */
async function readExactly(handle: BlobFileHandle, length: number, position: number): Promise<Buffer> {
  // Its own ArrayBuffer: it may move to the codec thread without copies.
  const buffer = Buffer.allocUnsafeSlow(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done)
    if (bytesRead === 0) {
      throw new HiveStorageError(
        'BLOB_CORRUPT',
        `a blob file ended ${length - done} bytes early (truncated?)`,
      )
    }
    done += bytesRead
  }
  return buffer
}

/**
 * Checks content against its hash while it is read: each piece goes to the hasher (another
 * thread, by default) and comes back for the reader to hand on.
 */
class ContentCheck {
  readonly #stream: HashStream
  readonly #hash: string
  readonly #corrupt: (problem: string) => HiveStorageError
  #finished = false

  constructor(hasher: Hasher, hash: string, corrupt: (problem: string) => HiveStorageError) {
    this.#stream = hasher.start()
    this.#hash = hash
    this.#corrupt = corrupt
  }

  /** Hashes a piece (in order); resolves with the piece, usable again, once hashed. */
  hash(content: Buffer): Promise<Buffer> {
    const back = this.#stream.update(content)
    back.catch(() => {})
    return back
  }

  /** Throws `BLOB_CORRUPT` unless everything hashed adds up to the expected hash. */
  async finish(): Promise<void> {
    if ((await this.#stream.digest()) !== this.#hash)
      throw this.#corrupt('its content does not match its hash')
  }

  discard(): void {
    this.#stream.discard()
  }
}
