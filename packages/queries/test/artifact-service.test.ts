import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { type ArtifactContentStore, ArtifactService } from '../src/index.js'
import { world } from './helpers.js'

const log = (n: number) => Buffer.from(`line ${n}: compiling module ${n % 17}\n`.repeat(2000))

describe('ArtifactService.put', () => {
  it('writes the content, then the blob and artifact rows', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    const artifact = await artifacts.put(
      {
        cellId: w.cell,
        sessionId: w.session,
        messageId: w.message,
        type: 'log',
        name: 'build.log',
        summary: 'tsc found 3 errors',
      },
      Readable.from([log(1)]),
    )
    expect(artifact).toMatchObject({
      cellId: w.cell,
      sessionId: w.session,
      messageId: w.message,
      type: 'log',
      name: 'build.log',
      contentType: 'text/plain; charset=utf-8',
      size: log(1).length,
      status: 'available',
    })
    expect(artifact.storedSize).toBeLessThan(artifact.size)
    expect(await w.blobs.has(artifact.blobHash)).toBe(true)
    expect(w.sqlite.prepare('SELECT hash, size, stored_size, encoding FROM blobs').all()).toEqual([
      {
        hash: artifact.blobHash,
        size: artifact.size,
        stored_size: artifact.storedSize,
        encoding: 'lz4-frames',
      },
    ])
    expect(await artifacts.get(artifact.id)).toEqual(artifact)
    // The summary is searchable at once.
    expect(w.sqlite.prepare("SELECT ref_id FROM search WHERE search MATCH 'errors'").pluck().all()).toEqual([
      artifact.id,
    ])
  })

  it('stores the same content once for several artifacts', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    const a = await artifacts.put({ cellId: w.cell, type: 'log', name: 'a.log' }, log(2))
    const b = await artifacts.put(
      { cellId: w.otherCell, type: 'log', name: 'b.log', contentType: 'text/x-log' },
      log(2),
    )
    expect(a.blobHash).toBe(b.blobHash)
    expect(b.contentType).toBe('text/x-log')
    expect(w.sqlite.prepare('SELECT count(*) FROM blobs').pluck().get()).toBe(1)
    expect((await w.blobs.stats()).count).toBe(1)
  })

  it('writes nothing for invalid input, an unknown cell, or a session of another cell', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    await expect(artifacts.put({ cellId: 'nope', type: 'log', name: 'x' }, 'x')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      artifacts.put({ cellId: w.cell, type: 'movie' as 'log', name: 'x' }, 'x'),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(artifacts.put({ cellId: w.cell, type: 'log', name: '' }, 'x')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      artifacts.put({ cellId: 'cell_00000000000000000000000000', type: 'log', name: 'x' }, 'x'),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(
      artifacts.put({ cellId: w.cell, sessionId: w.otherSession, type: 'log', name: 'x' }, 'x'),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    expect(w.sqlite.prepare('SELECT count(*) FROM artifacts').pluck().get()).toBe(0)
    expect((await w.blobs.stats()).count).toBe(0)
  })

  it('leaves no row when writing the content fails', async () => {
    const w = await world()
    const failing: ArtifactContentStore = {
      put: async () => {
        throw Object.assign(new Error('disk full'), { code: 'DISK_FULL' })
      },
      open: (hash, options) => w.blobs.open(hash, options),
    }
    const artifacts = new ArtifactService({ db: w.db, content: failing })
    await expect(artifacts.put({ cellId: w.cell, type: 'log', name: 'x.log' }, 'x')).rejects.toMatchObject({
      code: 'DISK_FULL',
    })
    expect(w.sqlite.prepare('SELECT count(*) FROM artifacts').pluck().get()).toBe(0)
    expect(w.sqlite.prepare('SELECT count(*) FROM blobs').pluck().get()).toBe(0)
  })
})

describe('ArtifactService.put racing a cell deletion', () => {
  it('leaves content without rows, which gc collects', async () => {
    const w = await world()
    const deleting: ArtifactContentStore = {
      put: async (content, options) => {
        const stored = await w.blobs.put(content, options)
        w.sqlite.prepare('DELETE FROM cells WHERE id = ?').run(w.cell) // another process, meanwhile
        return stored
      },
      open: (hash, options) => w.blobs.open(hash, options),
    }
    const artifacts = new ArtifactService({ db: w.db, content: deleting })
    await expect(
      artifacts.put({ cellId: w.cell, type: 'log', name: 'late.log' }, log(7)),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    expect(w.sqlite.prepare('SELECT count(*) FROM artifacts').pluck().get()).toBe(0)
    expect(w.sqlite.prepare('SELECT count(*) FROM blobs').pluck().get()).toBe(0)
    expect((await w.blobs.stats()).count).toBe(1)
    const reader = new ArtifactService({ db: w.db, content: w.blobs })
    const gc = await w.blobs.gc({ isLive: (hash) => reader.isReferenced(hash), graceMs: 0 })
    expect(gc.removed).toHaveLength(1)
  })
})

describe('ArtifactService.list', () => {
  it('pages a cell’s artifacts by type with a stable keyset cursor', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    const logs: string[] = []
    for (let i = 0; i < 23; i++) {
      logs.push((await artifacts.put({ cellId: w.cell, type: 'log', name: `run-${i}.log` }, `run ${i}`)).id)
      if (i % 5 === 0)
        await artifacts.put({ cellId: w.cell, type: 'diff', name: `change-${i}.diff` }, `diff ${i}`)
    }
    await artifacts.put({ cellId: w.otherCell, type: 'log', name: 'elsewhere.log' }, 'elsewhere')
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await artifacts.list(w.cell, { type: 'log', limit: 10, ...(cursor ? { cursor } : {}) })
      seen.push(...page.items.map((a) => a.id))
      cursor = page.nextCursor
      pages += 1
      // New artifacts arriving while paging (newest first) do not shift the pages after the cursor.
      if (pages === 1) await artifacts.put({ cellId: w.cell, type: 'log', name: 'late.log' }, 'late')
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([...logs].reverse())
    const ascending = await artifacts.list(w.cell, { order: 'asc', limit: 500 })
    expect(ascending.items).toHaveLength(23 + 5 + 1)
    expect(ascending.nextCursor).toBeNull()
  })

  it('rejects bad options and cursors', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    for (const options of [
      { limit: 0 },
      { limit: 501 },
      { type: 'movie' },
      { cursor: 'not a cursor!' },
      { cursor: 'eyJ2IjoyfQ' },
      { extra: 1 },
    ]) {
      await expect(artifacts.list(w.cell, options as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
    await expect(artifacts.list('cell_bad id')).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })
})

describe('ArtifactService.open', () => {
  it('streams the content with its content type, whole or a range', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    const content = log(3)
    const artifact = await artifacts.put({ cellId: w.cell, type: 'diff', name: 'change.patch' }, content)
    const whole = await artifacts.open(artifact.id)
    expect(whole.contentType).toBe('text/x-diff; charset=utf-8')
    expect(whole.artifact.id).toBe(artifact.id)
    expect(whole.verified).toBe(true)
    const chunks: Buffer[] = []
    for await (const chunk of whole.stream()) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks)).toEqual(content)
    const part = await artifacts.open(artifact.id, { range: { offset: 100, length: 50 } })
    expect(await part.buffer()).toEqual(content.subarray(100, 150))
  })

  it('reports an unknown artifact, or one whose content is gone, as NOT_FOUND', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    await expect(artifacts.open('art_00000000000000000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    const artifact = await artifacts.put({ cellId: w.cell, type: 'log', name: 'x.log' }, log(4))
    rmSync((await w.blobs.stat(artifact.blobHash)).path)
    await expect(artifacts.open(artifact.id)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('missing'),
    })
    await expect(artifacts.open(artifact.id, { range: { offset: -1 } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })
})

describe('deleting artifacts', () => {
  it("removes a cell's rows; the blob store's gc then collects the content nobody references", async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    const shared = await artifacts.put({ cellId: w.cell, type: 'log', name: 'shared.log' }, log(5))
    await artifacts.put({ cellId: w.otherCell, type: 'log', name: 'shared.log' }, log(5))
    const own = await artifacts.put({ cellId: w.cell, type: 'diff', name: 'own.diff' }, log(6))
    expect(await artifacts.deleteForCell(w.cell)).toBe(2)
    expect((await artifacts.list(w.cell)).items).toEqual([])

    const gc = await w.blobs.gc({ isLive: (hash) => artifacts.isReferenced(hash), graceMs: 0 })
    expect(gc.removed.map((r) => r.hash)).toEqual([own.blobHash])
    expect(await artifacts.forgetBlobs(gc.removed.map((r) => r.hash))).toBe(1)
    expect(await w.blobs.has(shared.blobHash)).toBe(true) // still referenced by the other cell
    expect(w.sqlite.prepare('SELECT hash FROM blobs').pluck().all()).toEqual([shared.blobHash])
    expect(readdirSync(join(w.dir, 'blobs', 'tmp'))).toEqual([])
  })

  it('deletes a single artifact and says whether it existed', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    const artifact = await artifacts.put({ cellId: w.cell, type: 'other', name: 'notes.txt' }, 'notes')
    expect(await artifacts.delete(artifact.id)).toBe(true)
    expect(await artifacts.delete(artifact.id)).toBe(false)
    await expect(artifacts.get(artifact.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('ArtifactService.list cursors', () => {
  it('belong to their listing: another order or type is refused', async () => {
    const w = await world()
    const artifacts = new ArtifactService({ db: w.db, content: w.blobs })
    for (let i = 0; i < 3; i++)
      await artifacts.put({ cellId: w.cell, type: 'log', name: `${i}.log` }, `run ${i}`)
    const page = await artifacts.list(w.cell, { type: 'log', limit: 1 })
    await expect(artifacts.list(w.cell, { type: 'diff', cursor: page.nextCursor! })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      artifacts.list(w.cell, { type: 'log', order: 'asc', cursor: page.nextCursor! }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(
      (await artifacts.list(w.cell, { type: 'log', limit: 5, cursor: page.nextCursor! })).items,
    ).toHaveLength(2)
  })
})
