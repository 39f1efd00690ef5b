import { randomUUID } from 'node:crypto'
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { HiveStorageError } from '@hive/errors'
import { ioError } from './io-error.js'

/** Where an export writes: a file (written aside and moved into place) or a stream. */
export interface OutputSink {
  /** Writes bytes, waiting while the destination is busy (backpressure). */
  write(chunk: Uint8Array): Promise<void>
  /** Everything is written: flush, sync and, for a file, move it into place. */
  close(): Promise<void>
  /** The export failed: leave nothing behind (a file's partial copy is removed). */
  abort(): Promise<void>
}

/** Small tar pieces (headers, padding) are gathered into writes of about this size. */
const WRITE_BYTES = 1024 * 1024

/**
 * Opens where an export goes. A path to a regular file (or to nothing yet) is written under a
 * temporary name in the same directory, synced and renamed at the end, so that a failed export
 * (a full disk) leaves no partial bundle under the name asked for. A path to something else (a
 * device such as `/dev/full`, a FIFO) is written directly. A stream is written with backpressure
 * and ended at the end unless `end` is false (standard output).
 */
export async function openOutputSink(
  output: string | NodeJS.WritableStream,
  options: { end?: boolean } = {},
): Promise<OutputSink> {
  return typeof output === 'string' ? fileSink(resolve(output)) : streamSink(output, options.end ?? true)
}

async function fileSink(path: string): Promise<OutputSink> {
  let existing: Awaited<ReturnType<typeof stat>> | undefined
  try {
    existing = await stat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(error, `cannot write ${path}`, path)
  }
  if (existing?.isDirectory()) {
    throw new HiveStorageError('IO_ERROR', `cannot write the bundle to ${path}: it is a directory`, {
      value: path,
    })
  }
  const direct = existing !== undefined && !existing.isFile()
  const target = direct ? path : join(dirname(path), `.${basename(path)}.${randomUUID()}.partial`)
  let handle: FileHandle
  try {
    handle = await open(target, direct ? 'w' : 'wx', 0o600)
  } catch (error) {
    throw ioError(error, `cannot write ${path}`, path)
  }
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  let closed = false
  const flush = async () => {
    if (pendingBytes === 0) return
    const buffer = Buffer.concat(pending, pendingBytes)
    pending = []
    pendingBytes = 0
    let done = 0
    while (done < buffer.length) {
      const { bytesWritten } = await handle.write(buffer, done, buffer.length - done)
      // A regular file that takes nothing more is on a full device.
      if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
      done += bytesWritten
    }
  }
  const fail = (error: unknown) => ioError(error, `cannot write the bundle to ${path}`, path)
  return {
    async write(chunk) {
      pending.push(chunk)
      pendingBytes += chunk.length
      if (pendingBytes >= WRITE_BYTES) await flush().catch((error) => Promise.reject(fail(error)))
    },
    async close() {
      try {
        await flush()
        if (!direct) await handle.sync()
        closed = true
        await handle.close()
        if (!direct) {
          await rename(target, path)
          await syncDirectory(dirname(path))
        }
      } catch (error) {
        throw fail(error)
      }
    },
    async abort() {
      if (!closed) await handle.close().catch(() => {})
      closed = true
      if (!direct) await unlink(target).catch(() => {})
    },
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function streamSink(stream: NodeJS.WritableStream, end: boolean): OutputSink {
  let failure: unknown
  const onError = (error: unknown) => {
    failure ??= error
  }
  stream.on('error', onError)
  const fail = (error: unknown) => ioError(error, 'cannot write the bundle')
  /** Resolves on `event`, rejects on an error (or one that came before). */
  const until = (event: 'drain' | 'finish') =>
    new Promise<void>((resolve, reject) => {
      if (failure !== undefined) return reject(fail(failure))
      const done = () => {
        stream.off('error', error)
        stream.off('close', closed)
        resolve()
      }
      const error = (cause: unknown) => {
        stream.off(event, done)
        stream.off('close', closed)
        reject(fail(cause))
      }
      const closed = () => {
        stream.off(event, done)
        stream.off('error', error)
        if (failure !== undefined) reject(fail(failure))
        else if (event === 'finish') resolve()
        else reject(fail(new Error('the output was closed')))
      }
      stream.once(event, done)
      stream.once('error', error)
      stream.once('close', closed)
    })
  return {
    async write(chunk) {
      if (failure !== undefined) throw fail(failure)
      if (!stream.write(chunk)) await until('drain')
      if (failure !== undefined) throw fail(failure)
    },
    async close() {
      if (failure !== undefined) throw fail(failure)
      if (end) {
        const finished = until('finish')
        stream.end()
        await finished
      }
      stream.off('error', onError)
    },
    async abort() {
      stream.off('error', onError)
      // Errors after the failure (a write that was in flight) are expected now: ignore them.
      stream.on('error', () => {})
      if (end) (stream as NodeJS.WritableStream & { destroy?: () => void }).destroy?.()
    },
  }
}
