import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { type BlobFileSystem, BlobStore, nodeFileSystem } from '../src/index.js'
import { random, store, text } from './helpers.js'

/** Every file under the store: nothing may be left after a failed write. */
function files(dir: string): string[] {
  const out: string[] = []
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(path, entry.name))
      else out.push(join(path, entry.name).slice(dir.length))
    }
  }
  walk(dir)
  return out
}

describe('BlobStore with bad input', () => {
  it.each([
    ['path traversal', '../../../etc/passwd'],
    ['traversal shaped like a hash', `../${'a'.repeat(61)}`],
    ['upper case', 'A'.repeat(64)],
    ['too short', 'abc'],
    ['with an extension', `${'a'.repeat(64)}.lz4`],
    ['empty', ''],
    ['not a string', 42],
  ])('rejects a malformed hash (%s) in every method', async (_label, hash) => {
    const { blobs } = store()
    for (const call of [
      () => blobs.has(hash as string),
      () => blobs.stat(hash as string),
      () => blobs.open(hash as string),
      () => blobs.verify(hash as string),
      () => blobs.quarantine(hash as string),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
  })

  it('reports an unknown hash as NOT_FOUND', async () => {
    const { blobs } = store()
    const unknown = 'f'.repeat(64)
    await expect(blobs.stat(unknown)).rejects.toMatchObject({ code: 'NOT_FOUND', value: unknown })
    await expect(blobs.open(unknown)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('rejects input that is not bytes, text or a stream of them, leaving nothing', async () => {
    const { dir, blobs } = store()
    for (const input of [null, 42, { not: 'a stream' }, [1, 2, 3]]) {
      await expect(blobs.put(input as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
    expect(files(dir)).toEqual([])
  })

  it('rejects a malformed content type before writing anything', async () => {
    const { dir, blobs } = store()
    await expect(blobs.put('x', { contentType: 'not a type' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    expect(files(dir)).toEqual([])
  })

  it('rejects invalid options', () => {
    expect(() => new BlobStore({ root: '' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }))
    expect(() => new BlobStore({ root: '/x', frameSize: 10 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    )
  })

  it('fails with INPUT_FAILED when the reader errors mid-stream, leaving nothing', async () => {
    const { dir, blobs } = store({ frameSize: 64 * 1024 })
    const input = new Readable({
      read() {
        this.push(text(100_000))
        this.destroy(new Error('upstream socket reset'))
      },
    })
    await expect(blobs.put(input)).rejects.toMatchObject({
      code: 'INPUT_FAILED',
      message: expect.stringContaining('upstream socket reset'),
    })
    expect(files(dir)).toEqual([])
  })

  it('fails with DISK_FULL when the disk fills up mid-write, leaving nothing under a final name', async () => {
    let budget = 150_000
    const fullDisk: BlobFileSystem = {
      ...nodeFileSystem,
      open: async (path, flags, mode) => {
        const handle = await nodeFileSystem.open(path, flags, mode)
        return {
          read: (...args) => handle.read(...args),
          sync: () => handle.sync(),
          close: () => handle.close(),
          writev: async (buffers, position) => {
            const size = buffers.reduce((sum, b) => sum + b.byteLength, 0)
            if (size > budget)
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
            budget -= size
            return handle.writev(buffers, position)
          },
        }
      },
    }
    const { dir, blobs } = store({ fileSystem: fullDisk, frameSize: 64 * 1024 })
    await expect(blobs.put(random(400_000))).rejects.toMatchObject({ code: 'DISK_FULL' })
    budget = 20_000
    await expect(blobs.put(text(2_000_000))).rejects.toMatchObject({ code: 'DISK_FULL' })
    expect(files(dir)).toEqual([])
  })

  it('stops with ABORTED when its signal fires, leaving nothing', async () => {
    const { dir, blobs } = store({ frameSize: 64 * 1024 })
    const controller = new AbortController()
    async function* slow() {
      for (let i = 0; i < 100; i++) {
        if (i === 3) controller.abort(new Error('user cancelled'))
        yield text(64 * 1024, i + 1)
      }
    }
    await expect(blobs.put(slow(), { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' })
    expect(files(dir)).toEqual([])
  })
})
