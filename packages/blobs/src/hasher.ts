import { createHash } from 'node:crypto'

/**
 * A running SHA-256. `update` takes a piece of content and gives it back, once hashed, for
 * reuse: a hasher on another thread holds it (detached) meanwhile. Pieces are hashed in the
 * order given. Pass buffers that own their whole `ArrayBuffer` (`Buffer.allocUnsafeSlow`).
 */
export interface HashStream {
  update(piece: Buffer): Promise<Buffer>
  digest(): Promise<string>
  /** Forgets the stream (after a failure). */
  discard(): void
}

export interface Hasher {
  start(): HashStream
}

/** {@link Hasher} on the calling thread. */
export const inlineHasher: Hasher = {
  start(): HashStream {
    const hash = createHash('sha256')
    return {
      update: async (piece) => {
        hash.update(piece)
        return piece
      },
      digest: async () => hash.digest('hex'),
      discard: () => {},
    }
  },
}
