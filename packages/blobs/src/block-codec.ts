/**
 * Compresses and decompresses single LZ4 blocks (the frame format around them is written by
 * the store). The buffers carry a 4-byte prefix so that no block is ever copied: `compress`
 * returns `[4 scratch bytes][block]`, and `decompress` takes `[content size u32 LE][block]`.
 */
export interface BlockCodec {
  compress(data: Buffer): Buffer
  decompress(prefixed: Uint8Array): Buffer
}
