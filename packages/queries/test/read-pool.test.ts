import { type Database, ids } from '@hive/schema'
import { ReadPool } from '@hive/sqlite'
import { Kysely } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { createQueryServices, type QueryServices, type SyncWriter } from '../src/index.js'
import type { World } from './helpers.js'
import { ingestFixtures } from './opencode-fixture.js'

const json = (value: unknown) => JSON.parse(JSON.stringify(value))
const pools: ReadPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()))
})

/** The fixture sessions ingested through composed services: reads on a pool, writes counted. */
async function pooled() {
  let pool: ReadPool | undefined
  let writes = 0
  let services: QueryServices | undefined
  const { w, byExternal } = await ingestFixtures((world: World) => {
    pool = new ReadPool({ path: world.database.sqlite.name, size: 2 })
    pools.push(pool)
    const writer: SyncWriter = {
      writeTransaction: (fn) => {
        writes += 1
        return world.database.writeTransaction(fn)
      },
    }
    services = createQueryServices({
      db: world.db,
      content: world.blobs,
      writer,
      readDb: new Kysely<Database>({ dialect: pool.dialect }),
    })
    return services
  })
  const main = createQueryServices({ db: w.db, content: w.blobs })
  return {
    w,
    byExternal,
    pool: pool as ReadPool,
    services: services as QueryServices,
    main,
    writes: () => writes,
  }
}

describe('query services on a read pool', () => {
  it('routes transcript writes to the writer and transcript reads and searches to the pool', async () => {
    const { pool, services, writes, byExternal } = await pooled()
    // Ingestion appended 40 messages, each one synchronous transaction on the writer.
    expect(writes()).toBe(40)
    const before = pool.stats().completed
    const [ref] = [...byExternal.values()]
    await services.transcripts.page((ref as { sessionId: string }).sessionId, { limit: 5 })
    await services.search.search({ text: 'test' })
    // A page is two queries (messages, then their parts); a search is one.
    expect(pool.stats().completed - before).toBe(3)
  })

  it('answers pages, streams, tails and searches exactly as the main thread does', async () => {
    const { byExternal, services, main } = await pooled()
    for (const { sessionId } of byExternal.values()) {
      expect(json(await services.transcripts.page(sessionId, { limit: 7 }))).toEqual(
        json(await main.transcripts.page(sessionId, { limit: 7 })),
      )
      expect(json(await services.transcripts.tail(sessionId, 4))).toEqual(
        json(await main.transcripts.tail(sessionId, 4)),
      )
      const streamed = async (s: QueryServices) => {
        const chunks: unknown[] = []
        for await (const chunk of s.transcripts.stream(sessionId, { chunkSize: 3 })) chunks.push(json(chunk))
        return chunks
      }
      const chunks = await streamed(services)
      expect(chunks.length).toBeGreaterThan(1)
      expect(chunks).toEqual(await streamed(main))
    }
    for (const text of ['test', 'file', 'the', 'read*', '"package json"']) {
      const hits = await services.search.search({ text, limit: 10 })
      expect(hits).toEqual(await main.search.search({ text, limit: 10 }))
    }
    // The fixtures do have hits for these: the comparison above is not of empty results.
    expect((await services.search.search({ text: 'test' })).hits.length).toBeGreaterThan(0)
  })

  it('sees each write as soon as it committed, under concurrent searches', async () => {
    const { w, services } = await pooled()
    for (let i = 0; i < 25; i++) {
      const message = ids.message()
      const word = `zebra${i}quagga`
      // Searches in flight on the pool while the write commits on the writer.
      const busy = Array.from({ length: 4 }, () => services.search.search({ text: 'test' }))
      await services.transcripts.append(
        { cellId: w.cell, sessionId: w.session },
        {
          info: { id: message, role: 'assistant', time: { created: 5000 + i } },
          parts: [{ id: ids.part(), messageID: message, type: 'text', text: `found ${word}` }],
        },
      )
      const { hits } = await services.search.search({ text: word })
      expect(hits.map((hit) => hit.refId)).toHaveLength(1)
      expect((await services.transcripts.getMessage(message)).id).toBe(message)
      await Promise.all(busy)
    }
  })

  it('fails with the same typed errors as the main thread', async () => {
    const { pool, services, main, w } = await pooled()
    for (const run of [
      (s: QueryServices) => s.search.search({ text: 'x', limit: 0 }),
      (s: QueryServices) => s.transcripts.page('not-a-session', {}),
      (s: QueryServices) => s.search.search({ text: 'x', cursor: 'bm90IGEgY3Vyc29y' }),
    ]) {
      const [onPool, onMain] = await Promise.allSettled([run(services), run(main)])
      expect(onPool.status).toBe('rejected')
      expect(onMain.status).toBe('rejected')
      const code = (r: PromiseSettledResult<unknown>) => (r as PromiseRejectedResult).reason.code
      expect(code(onPool)).toBe(code(onMain))
      expect(code(onPool)).toBe('INVALID_INPUT')
    }
    await pool.close()
    await expect(services.search.search({ text: 'test' })).rejects.toMatchObject({ code: 'DATABASE_ERROR' })
    await expect(services.transcripts.page(w.session, {})).rejects.toMatchObject({
      code: 'DATABASE_ERROR',
    })
    // A closed database on the main thread says so the same way (not "cannot search for").
    w.database.close()
    await expect(main.search.search({ text: 'test' })).rejects.toMatchObject({ code: 'DATABASE_ERROR' })
  })
})
