import { Worker } from 'node:worker_threads'
import { HiveStorageError } from '@hive/errors'
import type { Hasher, HashStream } from './hasher.js'

// Plain JavaScript, so the same code runs from the compiled package and from sources in tests.
const WORKER = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const streams = new Map()
parentPort.on('message', (m) => {
  if (m.op === 'start') streams.set(m.stream, createHash('sha256'))
  else if (m.op === 'update') {
    streams.get(m.stream)?.update(new Uint8Array(m.buffer, m.offset, m.length))
    parentPort.postMessage({ id: m.id, buffer: m.buffer }, [m.buffer])
  } else if (m.op === 'digest') {
    const hash = streams.get(m.stream)
    streams.delete(m.stream)
    parentPort.postMessage({ id: m.id, digest: hash ? hash.digest('hex') : undefined })
  } else if (m.op === 'discard') streams.delete(m.stream)
})
`

interface Pending {
  readonly resolve: (reply: { buffer?: ArrayBuffer; digest?: string }) => void
  readonly reject: (error: Error) => void
}

/**
 * {@link Hasher} on a worker thread: SHA-256 of a blob runs beside its compression (or
 * decompression) on the main thread, so the two use both cores. Pieces move to the worker and
 * back without copies (transferred `ArrayBuffer`s); the worker allocates nearly nothing, so memory
 * stays flat. One worker serves every store of the process. It does not keep the process alive
 * when idle; one that dies is replaced, and its requests fail with a typed error.
 */
export class WorkerHasher implements Hasher {
  static #shared: WorkerHasher | undefined

  static shared(): WorkerHasher {
    WorkerHasher.#shared ??= new WorkerHasher()
    return WorkerHasher.#shared
  }

  #worker: Worker | undefined
  readonly #pending = new Map<number, Pending>()
  #next = 0

  start(): HashStream {
    const stream = this.#next++
    const worker = this.#start()
    worker.postMessage({ op: 'start', stream })
    // A stream lives in one worker: if that one died, the stream is lost, never silently restarted.
    const alive = () => {
      if (this.#worker !== worker)
        throw new HiveStorageError('INTERNAL', 'the hashing thread stopped during a hash')
    }
    return {
      update: async (piece) => {
        alive()
        // A small buffer may sit in Node's shared slab, which must never move: copy it.
        const own =
          piece.buffer instanceof ArrayBuffer && piece.buffer.byteLength > Buffer.poolSize
            ? piece
            : Buffer.from(piece)
        const { byteOffset, byteLength } = own
        const buffer = own.buffer as ArrayBuffer
        const reply = await this.#request(
          { op: 'update', stream, buffer, offset: byteOffset, length: byteLength },
          [buffer],
        )
        return Buffer.from(reply.buffer as ArrayBuffer, byteOffset, byteLength)
      },
      digest: async () => {
        alive()
        const { digest } = await this.#request({ op: 'digest', stream })
        if (digest === undefined) throw new HiveStorageError('INTERNAL', 'the hashing thread lost a hash')
        return digest
      },
      discard: () => {
        if (this.#worker === worker) worker.postMessage({ op: 'discard', stream })
      },
    }
  }

  #request(
    message: object,
    transfer: ArrayBuffer[] = [],
  ): Promise<{ buffer?: ArrayBuffer; digest?: string }> {
    const worker = this.#start()
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (this.#pending.size === 1) worker.ref()
      worker.postMessage({ ...message, id }, transfer)
    })
  }

  #start(): Worker {
    if (this.#worker) return this.#worker
    const worker = new Worker(WORKER, { eval: true })
    worker.on('message', (reply: { id: number; buffer?: ArrayBuffer; digest?: string }) => {
      const pending = this.#pending.get(reply.id)
      if (!pending) return
      this.#pending.delete(reply.id)
      if (this.#pending.size === 0) worker.unref()
      pending.resolve(reply)
    })
    const fail = (error: Error) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      const failure = new HiveStorageError('INTERNAL', `the hashing thread stopped: ${error.message}`, {
        cause: error,
      })
      for (const pending of this.#pending.values()) pending.reject(failure)
      this.#pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)))
    // After the listeners: adding a 'message' listener refs the worker again. Idle, it must not
    // keep the process alive; a request refs it until its reply.
    worker.unref()
    this.#worker = worker
    return worker
  }
}

function ownCopy(piece: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(piece.byteLength)
  piece.copy(copy)
  return copy
}
