import { join } from 'node:path'
import { isHiveStorageError } from '@hive/errors'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../src/index.js'

interface DB {
  t: { id: number; name: string }
}

function open(statementCacheSize?: number) {
  const database = openDatabase<DB>(
    join(tempDir(), 'hive.db'),
    statementCacheSize === undefined ? {} : { statementCacheSize },
  )
  database.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
  database.sqlite.exec(
    "WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 100) INSERT INTO t SELECT value, 'n' || value FROM g",
  )
  return database
}

describe('the statement cache under Kysely', () => {
  it('prepares a query once and reuses it', async () => {
    const database = open()
    for (let id = 1; id <= 50; id++) {
      const row = await database.db.selectFrom('t').selectAll().where('id', '=', id).executeTakeFirst()
      expect(row).toEqual({ id, name: `n${id}` })
    }
    expect(database.statementStats()).toMatchObject({ size: 1, misses: 1, hits: 49 })
    database.close()
  })

  it('evicts the least recently used statement beyond its capacity', async () => {
    const database = open(2)
    const byId = () => database.db.selectFrom('t').select('name').where('id', '=', 1).execute()
    const byName = () => database.db.selectFrom('t').select('id').where('name', '=', 'n1').execute()
    const count = () =>
      database.db
        .selectFrom('t')
        .select((eb) => eb.fn.countAll().as('c'))
        .execute()
    await byId()
    await byName()
    await byId() // byId is now the most recent
    await count() // evicts byName
    await byId() // still cached
    expect(database.statementStats()).toMatchObject({ size: 2, hits: 2, misses: 3, evictions: 1 })
    await byName()
    expect(database.statementStats()).toMatchObject({ misses: 4, evictions: 2 })
    database.close()
  })

  it('can be turned off', async () => {
    const database = open(0)
    await database.db.selectFrom('t').selectAll().execute()
    await database.db.selectFrom('t').selectAll().execute()
    expect(database.statementStats()).toMatchObject({ size: 0, hits: 0, misses: 2 })
    database.close()
  })

  it('streams rows, and a stream stopped early frees its statement', async () => {
    const database = open()
    const query = database.db.selectFrom('t').select('id').orderBy('id')
    const seen: number[] = []
    for await (const row of query.stream()) {
      seen.push(row.id)
      if (seen.length === 3) break
    }
    expect(seen).toEqual([1, 2, 3])
    // The same SQL runs again at once: the cached statement is no longer busy.
    expect((await query.execute()).length).toBe(100)
    database.close()
  })

  it('serves a query while the same statement is streaming elsewhere', async () => {
    const database = open()
    const iterator = database.sqlite.prepare('SELECT id FROM t ORDER BY id').iterate()
    iterator.next()
    // A raw statement busy on the connection does not stop Kysely's cached ones.
    const rows = await database.db.selectFrom('t').select('id').orderBy('id').execute()
    expect(rows.length).toBe(100)
    iterator.return?.()
    database.close()
  })
})

describe('driver errors', () => {
  it('become typed errors with the driver error as cause', async () => {
    const database = open()
    database.sqlite.exec(`
      CREATE TABLE parent (id TEXT PRIMARY KEY);
      CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parent(id), n INTEGER CHECK (n > 0));
    `)
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn()
      } catch (error) {
        expect(isHiveStorageError(error)).toBe(true)
        expect((error as Error).cause).toBeInstanceOf(Error)
        return (error as { code: string }).code
      }
      return 'no error'
    }
    const db = database.db as unknown as import('kysely').Kysely<{
      parent: { id: string }
      child: { id: string; parent_id: string; n: number }
    }>
    await db.insertInto('parent').values({ id: 'p' }).execute()
    expect(await attempt(() => db.insertInto('parent').values({ id: 'p' }).execute())).toBe('CONFLICT')
    expect(
      await attempt(() => db.insertInto('child').values({ id: 'c', parent_id: 'nope', n: 1 }).execute()),
    ).toBe('CONFLICT')
    expect(
      await attempt(() => db.insertInto('child').values({ id: 'c', parent_id: 'p', n: 0 }).execute()),
    ).toBe('INVALID_INPUT')
    expect(
      await attempt(() =>
        db
          .selectFrom('nope' as 'parent')
          .selectAll()
          .execute(),
      ),
    ).toBe('DATABASE_ERROR')
    database.close()
  })

  it('report a lock held too long as DATABASE_BUSY', async () => {
    const path = join(tempDir(), 'hive.db')
    const holder = openDatabase<DB>(path)
    holder.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
    const waiter = openDatabase<DB>(path, { busyTimeoutMs: 50 })
    holder.sqlite.exec('BEGIN IMMEDIATE')
    await expect(waiter.db.insertInto('t').values({ id: 1, name: 'x' }).execute()).rejects.toMatchObject({
      code: 'DATABASE_BUSY',
    })
    expect(() => waiter.transaction(() => 1)).toThrow(expect.objectContaining({ code: 'DATABASE_BUSY' }))
    holder.sqlite.exec('ROLLBACK')
    waiter.close()
    holder.close()
  })

  it('report use after close as a closed database', async () => {
    const database = open()
    database.close()
    await expect(database.db.selectFrom('t').selectAll().execute()).rejects.toMatchObject({
      code: 'DATABASE_ERROR',
    })
  })
})

describe('Kysely instances on one database', () => {
  it('share the connection lock but not each other’s query logging', async () => {
    const database = open()
    const logged: string[] = []
    const logging = new (await import('kysely')).Kysely<DB>({
      dialect: database.dialect,
      log: (event) => {
        if (event.level === 'query') logged.push(event.query.sql)
      },
    })
    await logging.selectFrom('t').select('id').where('id', '=', 1).execute()
    await database.db.selectFrom('t').select('name').where('id', '=', 2).execute()
    expect(logged).toEqual(['select "id" from "t" where "id" = ?'])
    // A transaction on one instance holds the connection: the other waits for it.
    const order: string[] = []
    const inside = logging.transaction().execute(async (trx) => {
      order.push('begin')
      await new Promise((resolve) => setTimeout(resolve, 20))
      await trx.selectFrom('t').selectAll().execute()
      order.push('commit')
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    await database.db.selectFrom('t').selectAll().execute()
    order.push('other')
    await inside
    expect(order).toEqual(['begin', 'commit', 'other'])
    database.close()
  })
})

describe('SqliteDatabase.writeTransaction', () => {
  it('runs compiled queries synchronously in one transaction, after any Kysely transaction in flight', async () => {
    const database = open()
    const order: string[] = []
    const inside = database.db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 1000, name: 'from kysely' }).execute()
      await new Promise((resolve) => setTimeout(resolve, 20))
      order.push('kysely commit')
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    await database.writeTransaction((execute) => {
      order.push('sync')
      const { rows } = execute(database.db.selectFrom('t').select('name').where('id', '=', 1000).compile())
      expect(rows).toEqual([{ name: 'from kysely' }])
      execute(database.db.insertInto('t').values({ id: 1001, name: 'sync' }).compile())
    })
    await inside
    expect(order).toEqual(['kysely commit', 'sync'])
    // A throw rolls the whole transaction back.
    await expect(
      database.writeTransaction((execute) => {
        execute(database.db.insertInto('t').values({ id: 1002, name: 'gone' }).compile())
        throw new Error('changed my mind')
      }),
    ).rejects.toThrow(/^changed my mind$/) // the caller's own error, as it was
    expect(database.sqlite.prepare('SELECT count(*) FROM t WHERE id >= 1000').pluck().get()).toBe(2)
    await expect(
      database.writeTransaction((execute) =>
        execute(database.db.insertInto('t').values({ id: 1001, name: 'dup' }).compile()),
      ),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    database.close()
  })
})

describe('SqliteDatabase.readTransaction', () => {
  it('reads one committed state while another connection writes, after any Kysely transaction in flight', async () => {
    const database = open()
    const other = openDatabase<DB>(database.path)
    const order: string[] = []
    const inside = database.db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 1000, name: 'from kysely' }).execute()
      await new Promise((resolve) => setTimeout(resolve, 20))
      order.push('kysely commit')
    })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const counts = await database.readTransaction((execute) => {
      order.push('read')
      const count = () => database.sqlite.prepare('SELECT count(*) FROM t').pluck().get() as number
      const before = count()
      // No write lock is held: the other connection commits in the middle of the read...
      other.sqlite.prepare("INSERT INTO t (id, name) VALUES (2000, 'other')").run()
      // ...which this transaction does not see.
      const { rows } = execute(database.db.selectFrom('t').select('id').where('id', '>=', 1000).compile())
      return { before, after: count(), ids: rows.map((row) => row.id) }
    })
    await inside
    expect(order).toEqual(['kysely commit', 'read'])
    expect(counts).toEqual({ before: 101, after: 101, ids: [1000] })
    expect(database.sqlite.prepare('SELECT count(*) FROM t').pluck().get()).toBe(102)
    other.close()
    database.close()
  })
})
