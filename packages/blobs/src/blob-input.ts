import { Readable } from 'node:stream'
import { HiveStorageError } from '@hive/errors'

/** What a blob can be written from. */
export type BlobInput =
  | Uint8Array
  | string
  | Readable
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>

function isIterable(value: object): value is Iterable<unknown> {
  return typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function'
}

function isAsyncIterable(value: object): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
}

function toBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw new HiveStorageError('INVALID_INPUT', `a blob's content must be bytes or text, not ${typeof chunk}`, {
    value: typeof chunk,
  })
}

/**
 * The input as chunks of bytes. Errors raised by the caller's stream or iterable become
 * `INPUT_FAILED`, so they can be told apart from the store's own failures.
 */
export async function* chunksOf(input: BlobInput): AsyncGenerator<Buffer> {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    yield toBuffer(input)
    return
  }
  if (
    input === null ||
    typeof input !== 'object' ||
    !(input instanceof Readable || isAsyncIterable(input) || isIterable(input))
  ) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      'a blob is written from bytes, a string, a Readable or an (async) iterable of them',
      {
        value: input === null ? 'null' : typeof input,
      },
    )
  }
  const iterator = isAsyncIterable(input)
    ? input[Symbol.asyncIterator]()
    : (input as Iterable<Uint8Array | string>)[Symbol.iterator]()
  let done = false
  try {
    for (;;) {
      let next: IteratorResult<unknown>
      try {
        next = await iterator.next()
      } catch (error) {
        done = true // the input ended itself, by failing
        throw new HiveStorageError(
          'INPUT_FAILED',
          `the blob's input failed while it was read: ${(error as Error)?.message ?? error}`,
          {
            cause: error,
          },
        )
      }
      if (next.done) {
        done = true
        return
      }
      yield toBuffer(next.value)
    }
  } finally {
    // A write that stops early (full disk, cancelled) closes the caller's stream, as for-await would.
    if (!done) await iterator.return?.()
  }
}

/** Frame-sized buffers reused across pieces, so a long write does not churn memory. */
export class PiecePool {
  readonly #size: number
  readonly #free: Buffer[] = []

  constructor(size: number) {
    this.#size = size
  }

  acquire(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size)
  }

  /** Takes a buffer back, if it is a whole one of this pool's size (a short last piece is not). */
  release(buffer: Buffer): void {
    if (buffer.length === this.#size && buffer.byteOffset === 0) this.#free.push(buffer)
  }
}

/**
 * Regroups chunks into pieces of exactly the pool's buffer size (the last may be shorter). Every
 * piece is a copy in a pooled buffer: the caller may reuse its chunks at once, and a piece stays
 * as it was hashed until it is written (give it back with `pool.release(piece.buffer)`).
 */
export async function* piecesOf(
  chunks: AsyncIterable<Buffer>,
  size: number,
  pool: PiecePool,
): AsyncGenerator<Buffer> {
  let pending: Buffer | undefined
  let filled = 0
  for await (const chunk of chunks) {
    let offset = 0
    while (offset < chunk.length) {
      pending ??= pool.acquire()
      const n = Math.min(size - filled, chunk.length - offset)
      chunk.copy(pending, filled, offset, offset + n)
      filled += n
      offset += n
      if (filled === size) {
        yield pending
        pending = undefined
        filled = 0
      }
    }
  }
  if (pending && filled > 0) yield pending.subarray(0, filled)
}
