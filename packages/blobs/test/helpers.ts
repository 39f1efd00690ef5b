import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { BlobStore, type BlobStoreConfig } from '../src/index.js'

export function store(config: Partial<BlobStoreConfig> = {}) {
  const dir = tempDir()
  return { dir, blobs: new BlobStore({ root: join(dir, 'blobs'), ...config }) }
}

/** Text that compresses like real logs: repetitive lines with varying numbers. */
export function text(bytes: number, seed = 1): Buffer {
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const line = `${new Date(1_700_000_000_000 + i * 997 * seed).toISOString()} INFO worker-${(i * seed) % 7} processed item ${i * 31 + seed} in ${(i * 13) % 1000} ms\n`
    lines.push(line)
    size += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

export function random(bytes: number): Buffer {
  return randomBytes(bytes)
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** XORs one byte of a buffer with `mask` (to damage files on purpose). */
export function flip(buffer: Buffer, index: number, mask: number): void {
  buffer.writeUInt8(buffer.readUInt8(index) ^ mask, index)
}
