import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { Kysely, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { openDatabase, ReadPool } from '../src/index.js'
import { READ_WORKER_SOURCE } from '../src/read-worker-source.js'

interface DB {
  t: { id: number; name: string }
}

/** A query that keeps SQLite busy for a while (counting in a recursive CTE). */
const SLOW =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) AS n FROM c'

function setup(size = 2, workerSource?: string) {
  const path = join(tempDir(), 'hive.db')
  const database = openDatabase<DB>(path)
  database.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
  database.sqlite.exec(
    "WITH RECURSIVE g(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM g WHERE v < 1000) INSERT INTO t SELECT v, 'n' || v FROM g",
  )
  const pool = new ReadPool({ path, size, ...(workerSource ? { workerSource } : {}) })
  return { path, database, pool, readDb: new Kysely<DB>({ dialect: pool.dialect }) }
}

describe('ReadPool', () => {
  it('answers like the main thread, through Kysely too', async () => {
    const { database, pool, readDb } = setup()
    const query = database.db.selectFrom('t').selectAll().where('id', '<=', 3).orderBy('id')
    expect((await pool.query(query.compile())).rows).toEqual(await query.execute())
    expect(await readDb.selectFrom('t').select('name').where('id', '=', 7).executeTakeFirst()).toEqual({
      name: 'n7',
    })
    const streamed: unknown[] = []
    for await (const row of readDb.selectFrom('t').select('id').orderBy('id').stream(100)) streamed.push(row)
    expect(streamed).toHaveLength(1000)
    await pool.close()
    database.close()
  })

  it('sees a write committed before the read started', async () => {
    const { database, pool, readDb } = setup()
    for (let i = 0; i < 20; i++) {
      await database.db
        .insertInto('t')
        .values({ id: 5000 + i, name: `late ${i}` })
        .execute()
      expect(
        await readDb
          .selectFrom('t')
          .select('name')
          .where('id', '=', 5000 + i)
          .executeTakeFirst(),
      ).toEqual({ name: `late ${i}` })
    }
    await pool.close()
    database.close()
  })

  it('gives the same typed errors as the main thread', async () => {
    const { database, pool } = setup()
    await expect(pool.query({ sql: 'SELECT * FROM nope', parameters: [] })).rejects.toMatchObject({
      code: 'DATABASE_ERROR',
    })
    await expect(pool.query({ sql: "INSERT INTO t VALUES (1, 'x')", parameters: [] })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      new Kysely<DB>({ dialect: pool.dialect }).transaction().execute(async () => {}),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    // The pool goes on after errors.
    expect((await pool.query({ sql: 'SELECT count(*) AS n FROM t', parameters: [] })).rows).toEqual([
      { n: 1000 },
    ])
    await pool.close()
    database.close()
  })

  it('runs more queries than it has workers, in order, all of them', async () => {
    const { database, pool } = setup(2)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        pool.query<{ n: number }>({ sql: SLOW, parameters: [10_000 + i] }),
      ),
    )
    expect(results.map((r) => r.rows[0]?.n)).toEqual(Array.from({ length: 20 }, (_, i) => 10_000 + i))
    expect(pool.stats()).toMatchObject({ size: 2, busy: 0, queued: 0, completed: 20 })
    await pool.close()
    database.close()
  })

  it('keeps the event loop free while a long query runs', async () => {
    const { database, pool } = setup(1)
    let ticks = 0
    const timer = setInterval(() => ticks++, 5)
    await pool.query({ sql: SLOW, parameters: [3_000_000] })
    clearInterval(timer)
    // On the main thread the same query would let no timer fire until it ended.
    expect(ticks).toBeGreaterThan(3)
    ticks = 0
    const blocking = setInterval(() => ticks++, 5)
    database.sqlite.prepare(SLOW).get(3_000_000)
    clearInterval(blocking)
    expect(ticks).toBe(0)
    await pool.close()
    database.close()
  })

  it('replaces a worker that dies; its query fails with a typed error, the rest go on', async () => {
    // The worker dies (as on a crash in the driver) when it meets this one query.
    const crashing = READ_WORKER_SOURCE.replace(
      "if (m.op === 'query') {",
      "if (m.sql === 'SELECT 42 AS crash') process.exit(70)\n  if (m.op === 'query') {",
    )
    expect(crashing).not.toBe(READ_WORKER_SOURCE)
    const { database, pool } = setup(1, crashing)
    const before = pool.query({ sql: 'SELECT 1 AS one', parameters: [] })
    const crash = pool.query({ sql: 'SELECT 42 AS crash', parameters: [] })
    const after = pool.query({ sql: 'SELECT 2 AS two', parameters: [] })
    expect((await before).rows).toEqual([{ one: 1 }])
    await expect(crash).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('exit code 70'),
    })
    expect((await after).rows).toEqual([{ two: 2 }])
    expect(pool.stats()).toMatchObject({ restarts: 1, size: 1 })
    await pool.close()
    database.close()
  })

  it('cancels a queued query on abort, and lets the running one finish', async () => {
    const { database, pool } = setup(1)
    const running = pool.query<{ n: number }>({ sql: SLOW, parameters: [2_000_000] })
    const controller = new AbortController()
    const queued = pool.query({ sql: 'SELECT 1', parameters: [] }, { signal: controller.signal })
    controller.abort(new Error('user went away'))
    await expect(queued).rejects.toMatchObject({ code: 'ABORTED' })
    expect((await running).rows).toEqual([{ n: 2_000_000 }])
    const already = new AbortController()
    already.abort()
    await expect(
      pool.query({ sql: 'SELECT 1', parameters: [] }, { signal: already.signal }),
    ).rejects.toMatchObject({ code: 'ABORTED' })
    await pool.close()
    database.close()
  })

  it('drains work in flight and queued on close, then refuses more', async () => {
    const { database, pool } = setup(1)
    const pending = [
      pool.query({ sql: SLOW, parameters: [500_000] }),
      pool.query({ sql: SLOW, parameters: [400_000] }),
      pool.query({ sql: 'SELECT 3 AS n', parameters: [] }),
    ]
    const closed = pool.close()
    expect((await Promise.all(pending)).map((r) => r.rows[0])).toEqual([
      { n: 500_000 },
      { n: 400_000 },
      { n: 3 },
    ])
    await closed
    await expect(pool.query({ sql: 'SELECT 1', parameters: [] })).rejects.toMatchObject({
      code: 'DATABASE_ERROR',
      message: expect.stringContaining('closed'),
    })
    database.close()
  })

  it('streams in chunks and frees the worker when the reader stops early', async () => {
    const { database, pool } = setup(1)
    const chunks: number[] = []
    for await (const rows of pool.stream<{ id: number }>(
      { sql: 'SELECT id FROM t ORDER BY id', parameters: [] },
      { chunkSize: 64 },
    )) {
      chunks.push(rows.length)
      if (chunks.length === 3) break
    }
    expect(chunks).toEqual([64, 64, 64])
    expect((await pool.query({ sql: 'SELECT count(*) AS n FROM t', parameters: [] })).rows).toEqual([
      { n: 1000 },
    ])
    await expect(async () => {
      for await (const _ of pool.stream({ sql: 'SELECT 1', parameters: [] }, { chunkSize: 0 })) {
        // never reached
      }
    }).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await pool.close()
    database.close()
  })

  it('rejects bad options', () => {
    expect(() => new ReadPool({ path: '', size: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    )
    expect(() => new ReadPool({ path: '/x', size: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    )
  })
})

void sql
