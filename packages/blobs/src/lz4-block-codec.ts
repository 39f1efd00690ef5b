import type { BlockCodec } from './block-codec.js'

/** The slice of lz4-napi this package uses (its block functions: about 3× faster than frames). */
export interface Lz4Napi {
  compressSync(data: Buffer): Buffer
  uncompressSync(data: Uint8Array): Buffer
}

/**
 * {@link BlockCodec} on lz4-napi's block functions. lz4-napi prefixes a block with its content
 * size, which is exactly the codec's buffer contract. Its synchronous functions are used on
 * purpose: its asynchronous ones leave their buffers to finalisers, and a long stream of them
 * (on the thread pool or in a worker) grows memory by hundreds of MiB before it is reclaimed.
 * The parallel work is hashing instead (see {@link WorkerHasher}).
 */
export class Lz4BlockCodec implements BlockCodec {
  readonly #lz4: Lz4Napi

  constructor(lz4: Lz4Napi) {
    this.#lz4 = lz4
  }

  compress(data: Buffer): Buffer {
    return this.#lz4.compressSync(data)
  }

  decompress(prefixed: Uint8Array): Buffer {
    return this.#lz4.uncompressSync(prefixed)
  }
}
