import { execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { spawnChild } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { createCache } from '../src/index.js'
import { world } from './helpers.js'

const writer = new URL('./fixtures/writer.ts', import.meta.url).pathname

describe('a cache shared with other processes', () => {
  it('never answers a read made after another process committed with what came before', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const q = cache.services
    const cell = await q.cells.create({ workspaceId: w.workspace, name: 'start', type: 'manual' })
    const session = await q.sessions.create({ cellId: cell.id })
    const other = await q.cells.create({ workspaceId: w.workspace, name: 'untouched', type: 'manual' })
    await q.cells.get(cell.id)
    await q.transcripts.tail(session.id, 3)
    const rounds = 30
    const child = spawnChild(writer, [w.dir, cell.id, session.id, String(rounds)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (chunk) => {
      stderr += chunk
    })
    const closed = new Promise((resolve) => child.on('close', resolve))
    let round = 0
    for await (const line of createInterface({ input: child.stdout! })) {
      expect(line, stderr).toBe(`committed ${round}`)
      // The other process has committed: the very next reads see it.
      expect((await q.cells.get(cell.id)).name).toBe(`name ${round - (round % 2)}`)
      const tail = await q.transcripts.tail(session.id, 3)
      expect(tail.messages.length).toBe(Math.min(3, Math.floor((round + 1) / 2)))
      if (round % 2 === 1) expect(tail.messages.at(-1)?.parts[0]?.text).toBe(`round ${round}`)
      // And until it commits again, they come from memory.
      const before = cache.stats().cells.hits
      await q.cells.get(cell.id)
      expect(cache.stats().cells.hits).toBe(before + 1)
      expect((await q.cells.get(other.id)).name).toBe('untouched')
      round += 1
      child.stdin?.write('next\n')
    }
    expect(await closed, stderr).toBe(0)
    expect(round).toBe(rounds)
    expect(cache.stats().foreignCommits).toBeGreaterThanOrEqual(rounds)
    w.database.close()
  }, 60_000)

  it('notices a commit made with the sqlite3 command-line tool', async () => {
    const w = await world()
    const cache = createCache(w.services, { database: w.database })
    const cell = await cache.services.cells.create({
      workspaceId: w.workspace,
      name: 'before',
      type: 'manual',
    })
    expect((await cache.services.cells.get(cell.id)).name).toBe('before')
    expect((await cache.services.cells.get(cell.id)).name).toBe('before')
    execFileSync('sqlite3', [w.path, `UPDATE cells SET name = 'from sqlite3' WHERE id = '${cell.id}'`])
    expect((await cache.services.cells.get(cell.id)).name).toBe('from sqlite3')
    expect(cache.stats().foreignCommits).toBe(1)
    w.database.close()
  })
})
