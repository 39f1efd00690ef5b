import { ids } from '@hive/schema'
import { describe, expect, it } from 'vitest'
import { createCache } from '../src/index.js'
import { outcome, world } from './helpers.js'

const methods = (object: object) => {
  const names = new Set<string>()
  for (let p = Object.getPrototypeOf(object); p && p !== Object.prototype; p = Object.getPrototypeOf(p))
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor') names.add(name)
  for (const name of Object.keys(object)) names.add(name)
  return [...names].sort()
}

describe('createCache', () => {
  it('has every method of every service, and answers as they do, from memory the second time', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const q = cache.services
    for (const name of Object.keys(w.services) as Array<keyof typeof w.services>) {
      expect(methods(q[name]), name).toEqual(methods(w.services[name]))
    }
    const cell = await q.cells.create({ workspaceId: w.workspace, name: 'Fix login', type: 'implementation' })
    const session = await q.sessions.create({ cellId: cell.id })
    const message = ids.message()
    await q.transcripts.append(
      { cellId: cell.id, sessionId: session.id },
      {
        info: { id: message, role: 'user', time: { created: 1 } },
        parts: [{ id: ids.part(), messageID: message, type: 'text', text: 'hello' }],
      },
    )
    const artifact = await q.artifacts.put({ cellId: cell.id, type: 'log', name: 'build.log' }, 'ok\n')
    const reads = [
      () => q.cells.get(cell.id),
      () => q.cells.list({ workspaceId: w.workspace }),
      () => q.cells.list(),
      () => q.transcripts.tail(session.id, 10),
      () => q.artifacts.get(artifact.id),
    ]
    const plain = [
      () => w.services.cells.get(cell.id),
      () => w.services.cells.list({ workspaceId: w.workspace }),
      () => w.services.cells.list(),
      () => w.services.transcripts.tail(session.id, 10),
      () => w.services.artifacts.get(artifact.id),
    ]
    for (const [i, read] of reads.entries()) {
      const expected = await outcome(plain[i] as () => Promise<unknown>)
      expect(await outcome(read)).toEqual(expected)
      expect(await outcome(read)).toEqual(expected)
    }
    const stats = cache.stats()
    expect(stats.cells).toMatchObject({ hits: 1, misses: 1, entries: 1 })
    expect(stats.cellLists).toMatchObject({ hits: 2, misses: 2, entries: 2 })
    expect(stats.transcriptTails).toMatchObject({ hits: 1, misses: 1, entries: 1 })
    expect(stats.artifacts).toMatchObject({ hits: 1, misses: 1, entries: 1 })
    expect(stats.cells.bytes).toBeGreaterThan(100)
    // Our own writes are not foreign commits.
    expect(stats.foreignCommits).toBe(0)
    // The very object comes back, frozen, so no caller can change what the next one gets.
    const first = await q.cells.get(cell.id)
    expect(await q.cells.get(cell.id)).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    // Lazily parsed parts of a frozen cached page still parse.
    const tail = await q.transcripts.tail(session.id, 10)
    expect(tail.messages[0]?.parts[0]?.data).toMatchObject({ text: 'hello' })
    expect(tail.messages[0]?.info).toMatchObject({ role: 'user' })
    w.database.close()
  })

  it('stays exact through thousands of random writes and reads (each read compared with the services)', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database, cellLists: { maxEntries: 3 } })
    const q = cache.services
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return Math.floor((seed / 2147483648) * n)
    }
    const cells: string[] = []
    const sessions: Array<{ cellId: string; sessionId: string }> = []
    const artifacts: string[] = []
    const parts: Array<{ ref: { cellId: string; sessionId: string }; id: string; message: string }> = []
    const pick = <T>(list: readonly T[]): T | undefined => list[random(list.length)]
    const writes = [
      async () => {
        const cell = await q.cells.create({
          workspaceId: w.workspace,
          name: `cell ${random(100)}`,
          type: 'manual',
        })
        cells.push(cell.id)
        const session = await q.sessions.create({ cellId: cell.id })
        sessions.push({ cellId: cell.id, sessionId: session.id })
      },
      async () => {
        const id = pick(cells)
        if (id) await q.cells.update(id, { name: `renamed ${random(100)}` }).catch(() => {})
      },
      async () => {
        const id = pick(cells)
        if (id) await q.cells.setStatus(id, 'provisioning').catch(() => {})
      },
      async () => {
        const ref = pick(sessions)
        if (!ref) return
        const message = ids.message()
        const part = ids.part()
        parts.push({ ref, id: part, message })
        await q.transcripts
          .append(ref, {
            info: { id: message, role: 'assistant', time: { created: random(1000) } },
            parts: [{ id: part, messageID: message, type: 'text', text: `words ${random(50)}` }],
          })
          .catch(() => {})
      },
      async () => {
        // A tool output over the spill size, then maybe a small one: artifacts come and go.
        const p = pick(parts)
        if (!p) return
        const big = random(2) === 0
        await q.transcripts
          .upsertPart(p.ref, {
            id: p.id,
            messageID: p.message,
            type: 'tool',
            tool: 'bash',
            callID: 'c',
            state: {
              status: 'completed',
              input: {},
              output: big ? 'x'.repeat(70_000 + random(10)) : 'ok',
              title: 't',
              metadata: {},
              time: { start: 1, end: 2 },
            },
          })
          .catch(() => {})
        // Its artifact (if any) joins those read by id, and stays there after it is gone.
        const artifact = w.database.sqlite
          .prepare('SELECT artifact_id FROM parts WHERE id = ?')
          .pluck()
          .get(p.id)
        if (typeof artifact === 'string') artifacts.push(artifact)
      },
      async () => {
        const id = pick(cells)
        if (!id) return
        const artifact = await q.artifacts.put(
          { cellId: id, type: 'log', name: `log ${random(9)}` },
          `log ${random(9)}`,
        )
        artifacts.push(artifact.id)
      },
      async () => {
        const id = pick(artifacts)
        if (id) await q.artifacts.delete(id)
      },
      async () => {
        const id = pick(cells)
        if (id && random(4) === 0) await q.artifacts.deleteForCell(id)
      },
      async () => {
        const ref = pick(sessions)
        if (ref && random(6) === 0) await q.sessions.delete(ref.sessionId)
      },
      async () => {
        const id = pick(cells)
        if (id && random(8) === 0) await q.cells.delete(id)
      },
    ]
    const reads: Array<() => [() => Promise<unknown>, () => Promise<unknown>] | undefined> = [
      () => {
        const id = pick(cells)
        return id ? [() => q.cells.get(id), () => w.services.cells.get(id)] : undefined
      },
      () => {
        const query = pick([
          {},
          { workspaceId: w.workspace, limit: 5 },
          { statuses: ['provisioning' as const] },
          { sort: 'created' as const },
        ])
        return [() => q.cells.list(query), () => w.services.cells.list(query)]
      },
      () => {
        const ref = pick(sessions)
        const n = 1 + random(5)
        return ref
          ? [() => q.transcripts.tail(ref.sessionId, n), () => w.services.transcripts.tail(ref.sessionId, n)]
          : undefined
      },
      () => {
        const id = pick(artifacts)
        if (!id) return undefined
        return [() => q.artifacts.get(id), () => w.services.artifacts.get(id)]
      },
    ]
    let compared = 0
    let failedWrites = 0
    for (let step = 0; step < 2500; step++) {
      // Writes may fail (a cell deleted meanwhile): what matters is that reads stay exact.
      if (random(3) === 0)
        await (writes[random(writes.length)] as () => Promise<void>)().catch(() => {
          failedWrites += 1
        })
      const pair = (reads[random(reads.length)] as (typeof reads)[number])()
      if (!pair) continue
      const [cached, plain] = pair
      const expected = await outcome(plain)
      expect(await outcome(cached), `step ${step}`).toEqual(expected)
      compared += 1
    }
    const stats = cache.stats()
    expect(compared).toBeGreaterThan(2000)
    expect(failedWrites).toBeLessThan(300)
    expect(
      stats.cells.hits + stats.cellLists.hits + stats.transcriptTails.hits + stats.artifacts.hits,
    ).toBeGreaterThan(300)
    expect(stats.cellLists.evictions).toBeGreaterThan(0)
    w.database.close()
  }, 60_000)

  it('forgets an artifact that a transcript write replaced, and a session that went', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const q = cache.services
    const cell = await q.cells.create({ workspaceId: w.workspace, name: 'a', type: 'manual' })
    const session = await q.sessions.create({ cellId: cell.id })
    const ref = { cellId: cell.id, sessionId: session.id }
    const message = ids.message()
    const part = ids.part()
    const tool = (output: string) => ({
      id: part,
      messageID: message,
      type: 'tool',
      tool: 'bash',
      callID: 'c',
      state: { status: 'completed', input: {}, output, title: 't', metadata: {}, time: { start: 1, end: 2 } },
    })
    await q.transcripts.append(ref, {
      info: { id: message, role: 'assistant', time: { created: 1 } },
      parts: [tool('a'.repeat(70_000))],
    })
    const spilled = (await q.transcripts.getMessage(message)).parts[0]?.artifactId as string
    expect((await q.artifacts.get(spilled)).sessionId).toBe(session.id)
    expect((await q.artifacts.get(spilled)).id).toBe(spilled) // a hit
    await q.transcripts.upsertPart(ref, tool('b'.repeat(70_000)))
    await expect(q.artifacts.get(spilled)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const next = (await q.transcripts.getMessage(message)).parts[0]?.artifactId as string
    await q.artifacts.get(next)
    expect((await q.transcripts.tail(session.id, 5)).messages).toHaveLength(1)
    // The session goes: its transcript too, and its artifacts no longer name it (set null) or go.
    await q.sessions.delete(session.id)
    expect((await q.transcripts.tail(session.id, 5)).messages).toHaveLength(0)
    expect(await outcome(() => q.artifacts.get(next))).toEqual(
      await outcome(() => w.services.artifacts.get(next)),
    )
    w.database.close()
  })

  it('invalidates what a write changes, and only that', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const q = cache.services
    const a = await q.cells.create({ workspaceId: w.workspace, name: 'a', type: 'manual' })
    const b = await q.cells.create({ workspaceId: w.workspace, name: 'b', type: 'manual' })
    await q.cells.get(a.id)
    await q.cells.get(b.id)
    await q.cells.update(a.id, { name: 'a2' })
    await q.cells.setProvisioning({ cellId: b.id, attemptCount: 1 })
    await q.cells.link({ fromCellId: a.id, toCellId: b.id, type: 'depends_on' })
    const hits = cache.stats().cells.hits
    expect((await q.cells.get(a.id)).name).toBe('a2') // a miss: it changed
    expect((await q.cells.get(b.id)).name).toBe('b') // a hit: it did not
    expect(cache.stats().cells).toMatchObject({ hits: hits + 1 })
    w.database.close()
  })

  it('never keeps what a read got before a write that ended while it ran', async () => {
    const w = await world()
    const cell = await w.services.cells.create({ workspaceId: w.workspace, name: 'before', type: 'manual' })
    // The services, with a read held back after it has read: the write lands in between.
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = {
      ...w.services,
      cells: Object.assign(Object.create(w.services.cells), {
        get: async (id: string) => {
          const value = await w.services.cells.get(id)
          await held
          return value
        },
        update: w.services.cells.update.bind(w.services.cells),
      }),
    }
    const cache = createCache(slow, { database: w.database })
    const reading = cache.services.cells.get(cell.id)
    await cache.services.cells.update(cell.id, { name: 'after' })
    release()
    expect((await reading).name).toBe('before') // it read before the write
    expect((await cache.services.cells.get(cell.id)).name).toBe('after') // and that was not kept
    w.database.close()
  })

  it('gives exactly the errors of the services to invalid calls, whatever it holds', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const q = cache.services
    const cell = await q.cells.create({ workspaceId: w.workspace, name: 'x', type: 'manual' })
    const session = await q.sessions.create({ cellId: cell.id })
    // Fill the caches with valid calls first.
    await q.cells.list({ limit: 10 })
    await q.cells.get(cell.id)
    await q.transcripts.tail(session.id, 5)
    const calls: Array<(s: typeof q) => Promise<unknown>> = [
      (s) => s.cells.get('nope'),
      (s) => s.cells.get(cell.id.toUpperCase()),
      (s) => s.cells.get(ids.cell()),
      (s) => s.cells.get(42 as never),
      (s) => s.cells.list({ limit: 0 }),
      (s) => s.cells.list({ limit: 10, bogus: undefined } as never),
      (s) => s.cells.list({ limit: '10' } as never),
      (s) => s.cells.list({ limit: 10, cursor: 'forged' }),
      (s) => s.transcripts.tail('not a session', 5),
      (s) => s.transcripts.tail(session.id, 0),
      (s) => s.transcripts.tail(session.id, '5' as never),
      (s) => s.artifacts.get('art_x'),
      (s) => s.artifacts.get(ids.artifact()),
    ]
    for (const [i, call] of calls.entries()) {
      const expected = await outcome(() => call(w.services))
      expect(expected, `call ${i}`).toHaveProperty('error')
      expect(await outcome(() => call(q)), `call ${i}`).toEqual(expected)
      expect(await outcome(() => call(q)), `call ${i} again`).toEqual(expected)
    }
    w.database.close()
  })

  it('holds to its limits on entries, bytes and age, and rejects bad limits', async () => {
    const w = await world()
    const cache = createCache(w.services, {
      database: w.database,
      cells: { maxEntries: 3 },
      artifacts: { maxBytes: 4096 },
      cellLists: { ttlMs: 30 },
    })
    const q = cache.services
    const made = []
    for (let i = 0; i < 5; i++)
      made.push(
        await q.cells.create({
          workspaceId: w.workspace,
          name: `cell ${i}`,
          description: 'd'.repeat(300),
          type: 'manual',
        }),
      )
    for (const cell of made) await q.cells.get(cell.id)
    expect(cache.stats().cells).toMatchObject({ entries: 3, evictions: 2 })
    const first = made[0]!
    for (let i = 0; i < 10; i++)
      await q.artifacts.put({ cellId: first.id, type: 'log', name: `l${i}`, summary: 's'.repeat(400) }, 'x')
    for (const artifact of (await q.artifacts.list(first.id)).items) await q.artifacts.get(artifact.id)
    expect(cache.stats().artifacts.bytes).toBeLessThanOrEqual(4096)
    expect(cache.stats().artifacts.evictions).toBeGreaterThan(0)
    await q.cells.list()
    await q.cells.list()
    expect(cache.stats().cellLists.hits).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 60))
    await q.cells.list()
    expect(cache.stats().cellLists).toMatchObject({ hits: 1, misses: 2 })
    for (const bad of [
      { cells: { maxEntries: 0 } },
      { artifacts: { maxBytes: 10 } },
      { cellLists: { ttlMs: -1 } },
      { other: {} },
    ]) {
      expect(() => createCache(w.services, bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      )
    }
    w.database.close()
  })

  it('goes on uncached after close, and empties on invalidateAll', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const cell = await cache.services.cells.create({ workspaceId: w.workspace, name: 'a', type: 'manual' })
    await cache.services.cells.get(cell.id)
    // A write on the same connection that bypasses the services: the cache is told.
    w.database.sqlite.prepare("UPDATE cells SET name = 'raw' WHERE id = ?").run(cell.id)
    cache.invalidateAll()
    expect((await cache.services.cells.get(cell.id)).name).toBe('raw')
    cache.close()
    w.database.sqlite.prepare("UPDATE cells SET name = 'raw again' WHERE id = ?").run(cell.id)
    expect((await cache.services.cells.get(cell.id)).name).toBe('raw again')
    w.database.close()
  })
})
