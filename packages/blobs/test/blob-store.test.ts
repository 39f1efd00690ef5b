import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { expectSameBytes, flip, random, sha256, store, text } from './helpers.js'

const FRAME = 64 * 1024

describe('BlobStore.put and open', () => {
  it('names a blob by the SHA-256 of its content and fans files out by its first byte', async () => {
    const { dir, blobs } = store()
    const content = text(100_000)
    const result = await blobs.put(content, { name: 'build.log' })
    expect(result).toMatchObject({
      hash: sha256(content),
      size: 100_000,
      encoding: 'lz4-frames',
      contentType: 'text/plain; charset=utf-8',
      deduplicated: false,
    })
    const path = join(dir, 'blobs', 'sha256', result.hash.slice(0, 2), `${result.hash}.lz4`)
    expect(statSync(path).size).toBe(result.storedSize)
    expect(result.storedSize).toBeLessThan(content.length / 3)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'blobs', 'sha256')).mode & 0o777).toBe(0o700)
    expectSameBytes(await (await blobs.open(result.hash)).buffer(), content)
  })

  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['a frame less one', FRAME - 1],
    ['exactly a frame', FRAME],
    ['a frame and one', FRAME + 1],
    ['many frames', FRAME * 7 + 123],
  ])('round-trips %s of text', async (_label, size) => {
    const { blobs } = store({ frameSize: FRAME })
    const content = text(size)
    const result = await blobs.put(content)
    expect(result.size).toBe(size)
    const opened = await blobs.open(result.hash)
    expect(opened.size).toBe(size)
    expectSameBytes(await opened.buffer(), content)
  })

  it('accepts a string, a Readable, an async iterable and an iterable, with the same result', async () => {
    const { blobs } = store({ frameSize: FRAME })
    const content = text(FRAME * 3 + 5)
    const pieces = [content.subarray(0, 1000), content.subarray(1000, 150_000), content.subarray(150_000)]
    const fromString = await blobs.put(content.toString('utf8'))
    const fromReadable = await blobs.put(Readable.from(pieces))
    const fromAsync = await blobs.put(
      (async function* () {
        for (const piece of pieces) yield piece
      })(),
    )
    const fromIterable = await blobs.put(pieces)
    expect(new Set([fromString.hash, fromReadable.hash, fromAsync.hash, fromIterable.hash])).toEqual(
      new Set([sha256(content)]),
    )
    expect([fromString, fromReadable, fromAsync, fromIterable].map((r) => r.deduplicated)).toEqual([
      false,
      true,
      true,
      true,
    ])
  })

  it('stores content that does not compress as is', async () => {
    const { dir, blobs } = store({ frameSize: FRAME })
    const content = random(FRAME * 2 + 10)
    const result = await blobs.put(content, { contentType: 'image/png' })
    expect(result).toMatchObject({ encoding: 'raw', storedSize: content.length, contentType: 'image/png' })
    const path = join(dir, 'blobs', 'sha256', result.hash.slice(0, 2), result.hash)
    expectSameBytes(readFileSync(path), content)
    expectSameBytes(await (await blobs.open(result.hash)).buffer(), content)
  })

  it('keeps one file for the same content and says so, also for concurrent writers', async () => {
    const { dir, blobs } = store()
    const content = text(300_000)
    const results = await Promise.all(Array.from({ length: 6 }, () => blobs.put(content)))
    expect(results.filter((r) => !r.deduplicated)).toHaveLength(1)
    const fan = join(dir, 'blobs', 'sha256', results[0]!.hash.slice(0, 2))
    expect(readdirSync(fan)).toEqual([`${results[0]!.hash}.lz4`])
    expect(readdirSync(join(dir, 'blobs', 'tmp'))).toEqual([])
  })

  it("writes files Debian's lz4 restores: lz4 -dc FILE | sha256sum prints the blob's name", async () => {
    const { blobs } = store({ frameSize: FRAME })
    // Text, then a stretch that does not compress (stored as an uncompressed block), then text.
    const content = Buffer.concat([text(FRAME * 3), random(FRAME + 77), text(FRAME * 2 + 5, 3)])
    const result = await blobs.put(content)
    expect(result.encoding).toBe('lz4-frames')
    const { path } = await blobs.stat(result.hash)
    const decoded = execFileSync('lz4', ['-dc', path], { maxBuffer: 64 * 1024 * 1024 })
    expect(sha256(decoded)).toBe(result.hash)
    const printed = execFileSync('sh', ['-c', `lz4 -dc '${path}' | sha256sum`], { encoding: 'utf8' })
    expect(printed.split(' ')[0]).toBe(result.hash)
    execFileSync('lz4', ['-t', path]) // the stock tool's own integrity test passes
  })

  it('streams as a Node Readable and as a web ReadableStream', async () => {
    const { blobs } = store({ frameSize: FRAME })
    const content = text(FRAME * 4 + 1)
    const { hash } = await blobs.put(content)
    const opened = await blobs.open(hash, { contentType: 'text/plain' })
    expect(opened.contentType).toBe('text/plain')
    const nodeChunks: Buffer[] = []
    for await (const chunk of opened.stream()) nodeChunks.push(chunk)
    expectSameBytes(Buffer.concat(nodeChunks), content)
    const webChunks: Uint8Array[] = []
    const reader = opened.webStream().getReader()
    for (let next = await reader.read(); !next.done; next = await reader.read()) webChunks.push(next.value)
    expectSameBytes(Buffer.concat(webChunks), content)
  })

  it('tells size and encoding without reading the content', async () => {
    const { blobs } = store({ frameSize: FRAME })
    const compressed = await blobs.put(text(FRAME * 5))
    const raw = await blobs.put(random(1000))
    expect(await blobs.stat(compressed.hash)).toMatchObject({
      size: FRAME * 5,
      encoding: 'lz4-frames',
      storedSize: compressed.storedSize,
    })
    expect(await blobs.stat(raw.hash)).toMatchObject({ size: 1000, encoding: 'raw', storedSize: 1000 })
    expect(await blobs.has(raw.hash)).toBe(true)
    expect(await blobs.has('0'.repeat(64))).toBe(false)
  })
})

describe('range reads', () => {
  it('return exactly the bytes asked for, across frame boundaries, for both encodings', async () => {
    const { blobs } = store({ frameSize: FRAME })
    for (const content of [text(FRAME * 6 + 999), random(FRAME * 3 + 17)]) {
      const { hash } = await blobs.put(content)
      const cases = [
        [0, 10],
        [FRAME - 5, 10],
        [FRAME, FRAME],
        [FRAME * 2 + 100, FRAME * 3],
        [content.length - 1, 1],
        [content.length, 0],
        [123, undefined],
      ] as const
      for (const [offset, length] of cases) {
        const opened = await blobs.open(hash, {
          range: length === undefined ? { offset } : { offset, length },
        })
        const expected = content.subarray(offset, length === undefined ? undefined : offset + length)
        expect(opened.length).toBe(expected.length)
        expect(opened.verified).toBe(offset === 0 && expected.length === content.length)
        expectSameBytes(await opened.buffer(), expected)
      }
    }
  })

  it('clips a range that runs past the end and rejects one that starts past it', async () => {
    const { blobs } = store({ frameSize: FRAME })
    const content = text(5000)
    const { hash } = await blobs.put(content)
    expect(await (await blobs.open(hash, { range: { offset: 4990, length: 100 } })).buffer()).toEqual(
      content.subarray(4990),
    )
    await expect(blobs.open(hash, { range: { offset: 5001 } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(blobs.open(hash, { range: { offset: -1 } })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(blobs.open(hash, { range: { offset: 0, length: 1.5 } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })

  it('decompress only the frames they need', async () => {
    const { blobs } = store({ frameSize: FRAME })
    const content = text(FRAME * 8)
    const { hash } = await blobs.put(content)
    const { path } = await blobs.stat(hash)
    // Damage frame 6: a read of frame 1 never touches it; a read of frame 6 fails.
    const damaged = readFileSync(path)
    let offset = 0
    for (let frame = 0; frame < 6; frame++) offset += 19 + damaged.readUInt32LE(offset + 15) + 4
    flip(damaged, offset + 19 + 40, 0xff)
    writeFileSync(path, damaged)
    expect(await (await blobs.open(hash, { range: { offset: FRAME + 10, length: 100 } })).buffer()).toEqual(
      content.subarray(FRAME + 10, FRAME + 110),
    )
    await expect((await blobs.open(hash)).buffer()).rejects.toMatchObject({ code: 'BLOB_CORRUPT' })
  })
})

describe('reads of damaged blobs', () => {
  async function damaged(mutate: (file: Buffer) => Buffer, content = text(FRAME * 3 + 5)) {
    const { dir, blobs } = store({ frameSize: FRAME })
    const { hash } = await blobs.put(content)
    const { path } = await blobs.stat(hash)
    writeFileSync(path, mutate(readFileSync(path)))
    return { dir, blobs, hash, path, content }
  }

  it('fail with BLOB_CORRUPT on a flipped bit in a literal, before the stream ends', async () => {
    const { blobs, hash } = await damaged((file) => {
      // A byte in the middle of the first block: literals in LZ4 decode to wrong bytes silently.
      flip(file, 19 + 200, 0x01)
      return file
    })
    const stream = (await blobs.open(hash)).stream()
    const received: Buffer[] = []
    let failure: unknown
    try {
      for await (const chunk of stream) received.push(chunk)
    } catch (error) {
      failure = error
    }
    expect(failure).toMatchObject({ code: 'BLOB_CORRUPT' })
    // The last frame was held back: a consumer never saw the whole (wrong) content succeed.
    expect(Buffer.concat(received).length).toBeLessThan(FRAME * 3 + 5)
  })

  it('fail with BLOB_CORRUPT on a truncated file, for stat and open', async () => {
    const { blobs, hash } = await damaged((file) => file.subarray(0, file.length - 100))
    await expect(blobs.stat(hash)).rejects.toMatchObject({ code: 'BLOB_CORRUPT' })
    await expect(blobs.open(hash)).rejects.toMatchObject({ code: 'BLOB_CORRUPT' })
  })

  it('fail with BLOB_CORRUPT on a damaged raw blob', async () => {
    const { blobs, hash } = await damaged((file) => {
      flip(file, 10, 0x80)
      return file
    }, random(5000))
    await expect((await blobs.open(hash)).buffer()).rejects.toMatchObject({ code: 'BLOB_CORRUPT' })
    // Unverified reads are the caller's choice.
    expect((await (await blobs.open(hash, { verify: false })).buffer()).length).toBe(5000)
  })

  it('are found by verify, quarantined on request, never deleted', async () => {
    const { dir, blobs, hash } = await damaged((file) => {
      flip(file, 19 + 100, 0x04)
      return file
    })
    const healthy = await blobs.put(text(1000, 9))
    const progress: number[] = []
    const report = await blobs.verifyAll({ quarantine: true, onProgress: (p) => progress.push(p.done) })
    expect(report.checked).toBe(2)
    expect(progress).toEqual([1, 2])
    expect(report.problems).toHaveLength(1)
    expect(report.problems[0]).toMatchObject({ hash, ok: false })
    const moved = report.problems[0]!.quarantinedTo as string
    expect(moved.startsWith(join(dir, 'quarantine', 'blobs'))).toBe(true)
    expect(existsSync(moved)).toBe(true)
    expect(await blobs.has(hash)).toBe(false)
    expect(await blobs.verify(healthy.hash)).toEqual({ hash: healthy.hash, ok: true })
  })

  it('are replaced when the same content is stored again', async () => {
    const { blobs, hash, content } = await damaged((file) => file.subarray(0, 100))
    const again = await blobs.put(content)
    expect(again.deduplicated).toBe(false)
    expectSameBytes(await (await blobs.open(hash)).buffer(), content)
  })
})

describe('BlobStore.stats', () => {
  it('counts logical and stored bytes and what compression and deduplication saved', async () => {
    const { blobs } = store({ frameSize: FRAME })
    const a = await blobs.put(text(200_000))
    const b = await blobs.put(random(10_000))
    const stats = await blobs.stats({
      references: new Map([
        [a.hash, 3],
        [b.hash, 1],
      ]),
    })
    expect(stats).toEqual({
      count: 2,
      logicalBytes: 210_000,
      storedBytes: a.storedSize + 10_000,
      compressionSavedBytes: 200_000 - a.storedSize,
      deduplicationSavedBytes: 2 * 200_000,
      byEncoding: { 'lz4-frames': 1, raw: 1 },
    })
  })
})
