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

/**
 * Asserts two byte sequences are equal. Much faster than `toEqual` on large buffers (which compares
 * element by element), and on a mismatch it names the first differing offset.
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength)
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)
  if (a.equals(b)) return
  let i = 0
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++
  throw new Error(`bytes differ at offset ${i} (lengths ${a.length} and ${b.length})`)
}
