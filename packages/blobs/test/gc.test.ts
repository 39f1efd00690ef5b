import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { store, text } from './helpers.js'

const HOUR = 60 * 60 * 1000

function age(path: string, ms: number) {
  const when = (Date.now() - ms) / 1000
  utimesSync(path, when, when)
}

describe('BlobStore.gc', () => {
  it('removes unreferenced blobs older than the grace period, keeps the rest', async () => {
    const { blobs } = store()
    const live = await blobs.put(text(10_000, 1))
    const oldDead = await blobs.put(text(10_000, 2))
    const youngDead = await blobs.put(text(10_000, 3))
    for (const hash of [live.hash, oldDead.hash]) age((await blobs.stat(hash)).path, 2 * HOUR)

    const dry = await blobs.gc({ isLive: (hash) => hash === live.hash, dryRun: true })
    expect(dry).toMatchObject({
      dryRun: true,
      scanned: 3,
      keptYoung: 1,
      removed: [{ hash: oldDead.hash, bytes: oldDead.storedSize }],
    })
    expect(dry.bytesFreed).toBe(oldDead.storedSize)
    expect(await blobs.has(oldDead.hash)).toBe(true) // a dry run removes nothing

    const progress: Array<{ scanned: number; removed: number }> = []
    const real = await blobs.gc({ isLive: (hash) => hash === live.hash, onProgress: (p) => progress.push(p) })
    // Progress for every blob scanned, removed or kept.
    expect(progress.map((p) => p.scanned)).toEqual([1, 2, 3])
    expect(progress.at(-1)).toEqual({ scanned: 3, removed: 1 })
    expect(real.removed.map((r) => r.hash)).toEqual([oldDead.hash])
    expect(await blobs.has(oldDead.hash)).toBe(false)
    expect(await blobs.has(youngDead.hash)).toBe(true)
    expect(await blobs.has(live.hash)).toBe(true)
    expect((await blobs.gc({ isLive: () => false, graceMs: 0 })).removed.map((r) => r.hash).sort()).toEqual(
      [live.hash, youngDead.hash].sort(),
    )
  })

  it('uses a grace period of one hour by default', async () => {
    const { blobs } = store()
    const blob = await blobs.put(text(1000))
    age((await blobs.stat(blob.hash)).path, 59 * 60 * 1000)
    expect((await blobs.gc({ isLive: () => false })).removed).toEqual([])
    age((await blobs.stat(blob.hash)).path, 61 * 60 * 1000)
    expect((await blobs.gc({ isLive: () => false })).removed).toHaveLength(1)
  })

  it('keeps a blob that a new put reused, even though it was old and unreferenced', async () => {
    const { blobs } = store()
    const content = text(5000)
    const first = await blobs.put(content)
    age((await blobs.stat(first.hash)).path, 3 * HOUR)
    const again = await blobs.put(content) // about to be referenced again
    expect(again.deduplicated).toBe(true)
    expect((await blobs.gc({ isLive: () => false })).removed).toEqual([])
    expect(await blobs.has(first.hash)).toBe(true)
  })

  it('removes stale leftovers of interrupted writes', async () => {
    const { dir, blobs } = store()
    const tmp = join(dir, 'blobs', 'tmp')
    mkdirSync(tmp, { recursive: true })
    writeFileSync(join(tmp, 'stale.partial'), 'x'.repeat(100))
    writeFileSync(join(tmp, 'fresh.partial'), 'y')
    age(join(tmp, 'stale.partial'), 2 * HOUR)
    const result = await blobs.gc({ isLive: () => true })
    expect(result).toMatchObject({ tempFiles: 1, tempBytes: 100 })
    expect(readdirSync(tmp)).toEqual(['fresh.partial'])
  })

  it('rejects a negative grace period', async () => {
    const { blobs } = store()
    await expect(blobs.gc({ isLive: () => true, graceMs: -1 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })
})

describe('BlobStore.claim', () => {
  it('refreshes a stored blob so that gc keeps it, and says when it is gone', async () => {
    const { blobs } = store()
    const blob = await blobs.put(text(5000, 9))
    age((await blobs.stat(blob.hash)).path, 2 * HOUR)
    expect(await blobs.claim(blob.hash)).toBe(true)
    // Claimed just now: younger than the grace period, unreferenced or not.
    expect((await blobs.gc({ isLive: () => false })).removed).toEqual([])
    expect(await blobs.has(blob.hash)).toBe(true)
    expect((await blobs.gc({ isLive: () => false, graceMs: 0 })).removed).toHaveLength(1)
    expect(await blobs.claim(blob.hash)).toBe(false)
    expect(await blobs.claim('0'.repeat(64))).toBe(false)
  })
})
