import { createHash } from 'node:crypto'
import { type FileHandle, mkdir, open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { isHiveStorageError } from '@hive/errors'
import tar from 'tar-stream'
import { type BundleEntry, bundleEntry } from './bundle-entry.js'
import { bundleInvalid } from './bundle-invalid.js'
import { ioError } from './io-error.js'

/** An entry of a bundle, copied into the staging directory. */
export interface StagedEntry {
  readonly entry: Exclude<BundleEntry, { kind: 'directory' | 'manifest' }>
  /** Where its bytes are now. */
  readonly file: string
  readonly size: number
  readonly sha256: string
}

export interface StagedBundle {
  /** The bytes of `manifest.json`. */
  readonly manifest: Buffer | undefined
  /** Every other entry by its path. */
  readonly entries: ReadonlyMap<string, StagedEntry>
}

export interface StageOptions {
  /** Entries larger than this are refused before they are read. */
  readonly maxEntryBytes: number
  /** `manifest.json` is read into memory: its own, smaller limit. */
  readonly maxManifestBytes: number
  /** Bytes of the bundle read so far. */
  readonly onBytes?: (bytes: number) => void
}

const TYPES: Readonly<Record<string, string>> = {
  symlink: 'a symbolic link',
  link: 'a hard link',
  'character-device': 'a device',
  'block-device': 'a device',
  fifo: 'a FIFO',
}

/**
 * Reads a bundle (a tar stream) once, copying each entry into `dir` under its path and hashing
 * it on the way. Only regular files with the paths of a bundle are accepted: links, devices,
 * FIFOs, unsafe or unknown paths, duplicates and entries over the size limit are refused before
 * their bytes are written. Nothing outside `dir` is ever touched; the caller removes `dir`.
 */
export async function stageBundle(
  input: NodeJS.ReadableStream,
  dir: string,
  options: StageOptions,
): Promise<StagedBundle> {
  const extract = tar.extract()
  let inputError: unknown
  /** The bundle is refused: reading stops, and what that does to the input is no failure of its own. */
  let stopping = false
  let read = 0
  const feeding = (async () => {
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        read += chunk.length
        options.onBytes?.(read)
        if (extract.destroyed) return
        if (!extract.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              extract.off('drain', done)
              extract.off('close', done)
              resolve()
            }
            extract.on('drain', done)
            extract.on('close', done)
          })
        }
      }
      ;(extract as NodeJS.WritableStream).end()
    } catch (error) {
      if (stopping) return
      inputError = error
      extract.destroy(error as Error)
    }
  })()

  const entries = new Map<string, StagedEntry>()
  const seen = new Set<string>()
  let manifest: Buffer | undefined
  try {
    for await (const item of extract) {
      const { header } = item
      const name = header.name
      if (header.type === 'directory') {
        const entry = bundleEntry(name, true)
        if (seen.has(`${entry.path}/`))
          throw bundleInvalid(`entry ${JSON.stringify(name)} appears twice`, name)
        seen.add(`${entry.path}/`)
        item.resume()
        continue
      }
      if (header.type !== 'file') {
        const what = TYPES[header.type ?? ''] ?? `of type ${header.type}`
        throw bundleInvalid(
          `entry ${JSON.stringify(name)} is ${what}: a bundle holds regular files only`,
          name,
        )
      }
      const entry = bundleEntry(name)
      if (entry.kind === 'directory') throw bundleInvalid(`entry ${JSON.stringify(name)} is misplaced`, name)
      if (seen.has(entry.path)) throw bundleInvalid(`entry ${JSON.stringify(name)} appears twice`, name)
      seen.add(entry.path)
      const size = header.size ?? 0
      const limit = entry.kind === 'manifest' ? options.maxManifestBytes : options.maxEntryBytes
      if (size > limit) {
        throw bundleInvalid(
          `entry ${JSON.stringify(name)} is ${size} bytes, over the limit of ${limit} bytes`,
          name,
        )
      }
      if (entry.kind === 'manifest') {
        const chunks: Buffer[] = []
        for await (const chunk of item as AsyncIterable<Buffer>) chunks.push(chunk)
        manifest = Buffer.concat(chunks)
        continue
      }
      const hash = createHash('sha256')
      const file = join(dir, entry.path)
      await mkdir(dirname(file), { recursive: true, mode: 0o700 }).catch((error) => {
        throw ioError(error, `cannot create ${dirname(file)}`)
      })
      let handle: FileHandle
      try {
        handle = await open(file, 'wx', 0o600)
      } catch (error) {
        throw ioError(error, `cannot stage ${entry.path}`, file)
      }
      let written = 0
      try {
        for await (const chunk of item as AsyncIterable<Buffer>) {
          hash.update(chunk)
          written += chunk.length
          let done = 0
          while (done < chunk.length) {
            const { bytesWritten } = await handle.write(chunk, done, chunk.length - done)
            done += bytesWritten
          }
        }
      } catch (error) {
        throw isHiveStorageError(error) || inputError !== undefined || !isSystemError(error)
          ? error
          : ioError(error, `cannot stage ${entry.path}`, file)
      } finally {
        await handle.close()
      }
      entries.set(entry.path, { entry, file, size: written, sha256: hash.digest('hex') })
    }
  } catch (error) {
    stopping = true
    extract.destroy()
    ;(input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
    await feeding
    if (isHiveStorageError(error)) throw error
    if (inputError !== undefined) throw ioError(inputError, 'cannot read the bundle')
    throw bundleInvalid(`it is not a complete tar archive (${(error as Error).message})`, undefined, error)
  }
  await feeding
  if (inputError !== undefined) throw ioError(inputError, 'cannot read the bundle')
  return { manifest, entries }
}

function isSystemError(error: unknown): boolean {
  return typeof (error as NodeJS.ErrnoException)?.code === 'string' && 'syscall' in (error as object)
}
