import { existsSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { runChild, tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import {
  type BlobFileSystem,
  BlobStore,
  type Hasher,
  inlineHasher,
  nodeFileSystem,
  parseRangeHeader,
} from '../src/index.js'
import { flip, store, text } from './helpers.js'

describe('a process using the blob store', () => {
  it.each(['bad-input', 'abort'])(
    'exits by itself after its first put fails (%s)',
    async (mode) => {
      const dir = tempDir()
      const result = await runChild(
        join(import.meta.dirname, 'fixtures', 'failing-put.ts'),
        [join(dir, 'blobs'), mode],
        { timeout: 20_000 },
      )
      expect(result.signal).toBeNull() // not killed by the timeout
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe(mode === 'abort' ? 'ABORTED' : 'INVALID_INPUT')
    },
    30_000,
  )
})

describe('several processes storing the same content at once', () => {
  it('end with one file; exactly one of them wrote it', async () => {
    const dir = tempDir()
    const root = join(dir, 'blobs')
    const start = join(dir, 'go')
    const script = join(import.meta.dirname, 'fixtures', 'same-content.ts')
    const children = Array.from({ length: 4 }, () => runChild(script, [root, start]))
    await new Promise((resolve) => setTimeout(resolve, 1000))
    writeFileSync(start, '')
    const results = (await Promise.all(children)).map(
      (r) => JSON.parse(r.stdout) as { hash: string; deduplicated: boolean },
    )
    expect(new Set(results.map((r) => r.hash)).size).toBe(1)
    expect(results.filter((r) => !r.deduplicated)).toHaveLength(1)
    const fan = join(root, 'sha256', results[0]!.hash.slice(0, 2))
    expect(readdirSync(fan)).toEqual([`${results[0]!.hash}.lz4`])
    expect(readdirSync(join(root, 'tmp'))).toEqual([])
  }, 60_000)
})

describe('deduplication across writers with other settings', () => {
  it('keeps the existing file, healthy, and reports what is stored', async () => {
    const dir = tempDir()
    const content = text(300_000)
    const small = new BlobStore({ root: join(dir, 'blobs'), frameSize: 64 * 1024 })
    const large = new BlobStore({ root: join(dir, 'blobs'), frameSize: 1024 * 1024 })
    const first = await small.put(content)
    const second = await large.put(content)
    expect(second).toMatchObject({
      deduplicated: true,
      storedSize: first.storedSize,
      encoding: first.encoding,
    })
    expect(existsSync(join(dir, 'quarantine'))).toBe(false)
    expect((await large.verify(first.hash)).ok).toBe(true)
  })
})

describe('quarantine', () => {
  it('never replaces an earlier quarantined copy of the same blob', async () => {
    const dir = tempDir()
    const blobs = new BlobStore({ root: join(dir, 'blobs'), now: () => 1_000 })
    const content = text(10_000)
    await blobs.put(content)
    const { hash } = await blobs.put(content)
    const first = await blobs.quarantine(hash)
    await blobs.put(content)
    const second = await blobs.quarantine(hash)
    expect(first).not.toBe(second)
    expect(readdirSync(join(dir, 'quarantine', 'blobs'))).toHaveLength(2)
  })
})

describe('a write that stops early', () => {
  it("closes the caller's stream (a full disk, a cancelled write)", async () => {
    const fullDisk: BlobFileSystem = {
      ...nodeFileSystem,
      open: async (path, flags, mode) => {
        const handle = await nodeFileSystem.open(path, flags, mode)
        return {
          read: (...args) => handle.read(...args),
          sync: () => handle.sync(),
          close: () => handle.close(),
          writev: async () => {
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
          },
        }
      },
    }
    const { blobs } = store({ fileSystem: fullDisk, frameSize: 64 * 1024 })
    const input = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) yield text(64 * 1024, i + 1)
      })(),
    )
    await expect(blobs.put(input)).rejects.toMatchObject({ code: 'DISK_FULL' })
    expect(input.destroyed).toBe(true)
  })

  it('treats a short write as a full disk', async () => {
    const shortWrites: BlobFileSystem = {
      ...nodeFileSystem,
      open: async (path, flags, mode) => {
        const handle = await nodeFileSystem.open(path, flags, mode)
        return {
          read: (...args) => handle.read(...args),
          sync: () => handle.sync(),
          close: () => handle.close(),
          writev: async (buffers) => {
            const first = buffers[0] as Uint8Array
            await handle.writev([first.subarray(0, Math.max(0, first.byteLength - 1))])
            return { bytesWritten: Math.max(0, first.byteLength - 1) }
          },
        }
      },
    }
    const { dir, blobs } = store({ fileSystem: shortWrites })
    await expect(blobs.put(text(10_000))).rejects.toMatchObject({ code: 'DISK_FULL' })
    expect(readdirSync(join(dir, 'blobs', 'tmp'))).toEqual([])
  })
})

describe('durability', () => {
  it('syncs the temp file before it gets its name, and the directories that hold new names', async () => {
    const log: string[] = []
    const recording: BlobFileSystem = {
      ...nodeFileSystem,
      open: async (path, flags, mode) => {
        const handle = await nodeFileSystem.open(path, flags, mode)
        return {
          read: (...args) => handle.read(...args),
          writev: (...args) => handle.writev(...args),
          close: () => handle.close(),
          sync: async () => {
            log.push(`sync ${path.replace(/.*blobs/, 'blobs')}`)
            await handle.sync()
          },
        }
      },
      link: async (from, to) => {
        log.push(`link ${to.replace(/.*blobs/, 'blobs')}`)
        await nodeFileSystem.link(from, to)
      },
    }
    const { blobs } = store({ fileSystem: recording })
    const { hash } = await blobs.put(text(5000))
    const fan = `blobs/sha256/${hash.slice(0, 2)}`
    const tempSync = log.findIndex((line) => /^sync blobs\/tmp\/.+\.partial$/.test(line))
    const linked = log.indexOf(`link ${fan}/${hash}.lz4`)
    expect(tempSync).toBeGreaterThanOrEqual(0)
    expect(linked).toBeGreaterThan(tempSync)
    expect(log.slice(linked)).toContain(`sync ${fan}`)
    // New directories are entries of their parents: those were synced as they were made.
    expect(log).toContain('sync blobs/sha256')
    expect(log).toContain('sync blobs')
  })
})

describe('damaged seek tables', () => {
  it.each([
    ['frame count', (file: Buffer) => flip(file, file.length - 16, 0x01)],
    ['an entry', (file: Buffer) => flip(file, file.length - 24 - 8 * 2 + 1, 0x10)],
    ['the frame magic', (file: Buffer) => flip(file, file.length - 24 - 8 * 4 - 8, 0x01)],
    ['the total', (file: Buffer) => flip(file, file.length - 24, 0x01)],
  ])('are BLOB_CORRUPT (%s)', async (_label, damage) => {
    const { blobs } = store({ frameSize: 64 * 1024 })
    const { hash } = await blobs.put(text(64 * 1024 * 4 - 100))
    const { path } = await blobs.stat(hash)
    const file = readFileSync(path)
    damage(file)
    writeFileSync(path, file)
    const opened = blobs.open(hash).then((content) => content.buffer())
    await expect(opened).rejects.toMatchObject({ code: 'BLOB_CORRUPT' })
    expect((await blobs.verify(hash)).ok).toBe(false)
  })
})

describe('reads that stop early', () => {
  it('let the hasher forget their unfinished hash', async () => {
    let started = 0
    let discarded = 0
    const counting: Hasher = {
      start: () => {
        started += 1
        const stream = inlineHasher.start()
        return {
          ...stream,
          discard: () => {
            discarded += 1
            stream.discard()
          },
        }
      },
    }
    const { blobs } = store({ hasher: counting, frameSize: 64 * 1024 })
    const { hash } = await blobs.put(text(64 * 1024 * 5))
    for (let i = 0; i < 3; i++) {
      for await (const _chunk of (await blobs.open(hash)).stream()) break
    }
    // A stream that is dropped mid-read finishes its read-ahead first, then lets go.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(started).toBe(4) // the put and three reads
    expect(discarded).toBe(3)
  })
})

describe('gc racing a put', () => {
  it('puts back a blob that a put refreshed while the sweep was taking it', async () => {
    let blobs!: BlobStore
    let target = ''
    const racing: BlobFileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        // A put reuses the blob at the last moment: it refreshes the file's time.
        if (from === target) {
          const now = Date.now() / 1000
          utimesSync(from, now, now)
        }
        await nodeFileSystem.rename(from, to)
      },
    }
    const dir = tempDir()
    blobs = new BlobStore({ root: join(dir, 'blobs'), fileSystem: racing })
    const { hash } = await blobs.put(text(8000))
    target = (await blobs.stat(hash)).path
    const old = Date.now() / 1000 - 7200
    utimesSync(target, old, old)
    const result = await blobs.gc({ isLive: () => false })
    expect(result.removed).toEqual([])
    expect(await blobs.has(hash)).toBe(true)
    expect(readdirSync(join(dir, 'blobs', 'tmp'))).toEqual([])
  })

  it('restores a blob whose sweep was cut short by a crash', async () => {
    const { dir, blobs } = store()
    const { hash } = await blobs.put(text(8000))
    const { path } = await blobs.stat(hash)
    // What a crash between "moved aside" and "removed or put back" leaves.
    const aside = join(dir, 'blobs', 'tmp', `${hash}.lz4.0b1c2d3e-aaaa-bbbb-cccc-0123456789ab.sweep`)
    renameSync(path, aside)
    expect(await blobs.has(hash)).toBe(false)
    await blobs.gc({ isLive: () => true })
    expect(await blobs.has(hash)).toBe(true)
    expect((await blobs.verify(hash)).ok).toBe(true)
    expect(readdirSync(join(dir, 'blobs', 'tmp'))).toEqual([])
  })
})

describe('parseRangeHeader on an empty resource', () => {
  it('says unsatisfiable for any range', () => {
    expect(parseRangeHeader('bytes=-10', 0)).toBe('unsatisfiable')
    expect(parseRangeHeader('bytes=0-', 0)).toBe('unsatisfiable')
    expect(parseRangeHeader(undefined, 0)).toBeUndefined()
  })
})
