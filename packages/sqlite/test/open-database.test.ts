import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { runChild, sha256File, tempDir } from '@hive/testing'
import Sqlite from 'better-sqlite3'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../src/index.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (isHiveStorageError(error)) return error.code
    throw error
  }
  return undefined
}

describe('openDatabase', () => {
  it('creates a private data directory and database file', () => {
    const dir = join(tempDir(), 'nested', 'data')
    const database = openDatabase(join(dir, 'hive.db'))
    database.close()
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, 'hive.db')).mode & 0o777).toBe(0o600)
  })

  it('sets the pragmas Hive relies on', () => {
    const database = openDatabase(join(tempDir(), 'hive.db'), { busyTimeoutMs: 1234, cacheSizeKiB: 2048 })
    const pragma = (name: string) => database.sqlite.pragma(name, { simple: true })
    expect(pragma('journal_mode')).toBe('wal')
    expect(pragma('busy_timeout')).toBe(1234)
    expect(pragma('foreign_keys')).toBe(1)
    expect(pragma('synchronous')).toBe(1) // NORMAL
    expect(pragma('cache_size')).toBe(-2048)
    expect(pragma('auto_vacuum')).toBe(2) // INCREMENTAL
    database.close()
  })

  it('uses synchronous=FULL when asked', () => {
    const database = openDatabase(join(tempDir(), 'hive.db'), { synchronous: 'full' })
    expect(database.sqlite.pragma('synchronous', { simple: true })).toBe(2)
    database.close()
  })

  it('gives a working Kysely instance on the same connection', async () => {
    const database = openDatabase<{ t: { id: number; name: string } }>(join(tempDir(), 'hive.db'))
    database.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
    await database.db.insertInto('t').values({ id: 1, name: 'one' }).execute()
    expect(database.sqlite.prepare('SELECT name FROM t WHERE id = 1').pluck().get()).toBe('one')
    const rows = await database.db.selectFrom('t').selectAll().execute()
    expect(rows).toEqual([{ id: 1, name: 'one' }])
    database.close()
  })

  it('checkpoints the WAL into the database file on close', () => {
    const dir = tempDir()
    const path = join(dir, 'hive.db')
    const database = openDatabase(path)
    database.sqlite.exec('CREATE TABLE t (x TEXT); INSERT INTO t VALUES (randomblob(100000))')
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0)
    database.close()
    database.close() // idempotent
    expect(database.closed).toBe(true)
    const walSize = existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0
    expect(walSize).toBe(0)
    // The main file alone holds the data: open it read-only with no WAL to replay.
    const reader = new Sqlite(path, { readonly: true })
    expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1)
    reader.close()
  })

  it('keeps an existing database and its data', () => {
    const path = join(tempDir(), 'hive.db')
    const first = openDatabase(path)
    first.sqlite.exec("CREATE TABLE t (x); INSERT INTO t VALUES ('kept')")
    first.close()
    const second = openDatabase(path, { create: false })
    expect(second.sqlite.prepare('SELECT x FROM t').pluck().get()).toBe('kept')
    second.close()
  })
})

describe('openDatabase with bad input', () => {
  it('refuses a missing data directory when not creating, and creates nothing', () => {
    const root = tempDir()
    const dir = join(root, 'absent')
    expect(codeOf(() => openDatabase(join(dir, 'hive.db'), { create: false }))).toBe('DATA_DIR_UNUSABLE')
    expect(existsSync(dir)).toBe(false)
  })

  it('refuses a data directory that is a file', () => {
    const root = tempDir()
    writeFileSync(join(root, 'file'), 'x')
    expect(codeOf(() => openDatabase(join(root, 'file', 'hive.db')))).toBe('DATA_DIR_UNUSABLE')
  })

  it('refuses a missing database file when not creating', () => {
    const root = tempDir()
    expect(codeOf(() => openDatabase(join(root, 'hive.db'), { create: false }))).toBe('NOT_FOUND')
    expect(readdirSync(root)).toEqual([])
  })

  it('refuses a file that is not a SQLite database and leaves it as it was', () => {
    const path = join(tempDir(), 'hive.db')
    writeFileSync(path, 'this is a text file, not a database\n'.repeat(200))
    const before = sha256File(path)
    let message = ''
    try {
      openDatabase(path)
    } catch (error) {
      expect(isHiveStorageError(error, 'NOT_A_DATABASE')).toBe(true)
      message = (error as Error).message
    }
    expect(message).toContain(path)
    expect(message).not.toContain('\n')
    expect(sha256File(path)).toBe(before)
    expect(existsSync(`${path}-wal`)).toBe(false)
  })

  it('refuses a directory where the database file should be', () => {
    const root = tempDir()
    mkdirSync(join(root, 'hive.db'))
    expect(codeOf(() => openDatabase(join(root, 'hive.db')))).toBe('NOT_A_DATABASE')
  })

  it("refuses another application's database and leaves it as it was", () => {
    const path = join(tempDir(), 'other.db')
    const other = new Sqlite(path)
    other.pragma('application_id = 1234')
    other.exec('CREATE TABLE mine (x)')
    other.close()
    const before = sha256File(path)
    expect(codeOf(() => openDatabase(path, { applicationId: 0x48495645 }))).toBe('NOT_A_HIVE_DATABASE')
    expect(sha256File(path)).toBe(before)
  })

  it('stamps new databases with the application id', () => {
    const path = join(tempDir(), 'hive.db')
    openDatabase(path, { applicationId: 0x48495645 }).close()
    const database = openDatabase(path, { applicationId: 0x48495645 })
    expect(database.sqlite.pragma('application_id', { simple: true })).toBe(0x48495645)
    database.close()
  })

  it('rejects invalid options with the field named', () => {
    const path = join(tempDir(), 'hive.db')
    try {
      openDatabase(path, { busyTimeoutMs: -1 })
      expect.unreachable()
    } catch (error) {
      expect(isHiveStorageError(error, 'INVALID_INPUT')).toBe(true)
      expect((error as Error).message).toContain('busyTimeoutMs')
    }
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(codeOf(() => openDatabase(path, { synchronous: 'sometimes' } as any))).toBe('INVALID_INPUT')
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(codeOf(() => openDatabase(path, { nonsense: true } as any))).toBe('INVALID_INPUT')
    expect(codeOf(() => openDatabase(''))).toBe('INVALID_INPUT')
    expect(existsSync(path)).toBe(false)
  })

  it.runIf(process.getuid?.() === 0)(
    'refuses a data directory it cannot write (as an unprivileged user)',
    async () => {
      // Root ignores permissions, so the attempt runs in a child process as `nobody`.
      const root = tempDir()
      chmodSync(root, 0o755) // nobody may look inside, but not write
      const dir = join(root, 'locked')
      mkdirSync(dir, { mode: 0o755 })
      const script = join(import.meta.dirname, 'fixtures', 'open-as.ts')
      const result = await runChild(script, [join(dir, 'hive.db')], { uid: 65534, gid: 65534 })
      expect(result.stdout.trim()).toBe('DATA_DIR_UNUSABLE')
      expect(readdirSync(dir)).toEqual([])
    },
  )
})

describe('write transactions', () => {
  it('begin with BEGIN IMMEDIATE, through Kysely and the synchronous API', async () => {
    const path = join(tempDir(), 'hive.db')
    const database = openDatabase<{ t: { x: number } }>(path)
    database.sqlite.exec('CREATE TABLE t (x)')
    const other = new Sqlite(path, { timeout: 0 })
    const otherCanWrite = () => {
      try {
        other.exec('BEGIN IMMEDIATE; ROLLBACK')
        return true
      } catch {
        return false
      }
    }
    // Nothing written yet inside either transaction: only an IMMEDIATE begin holds the lock.
    await database.db.transaction().execute(async (trx) => {
      await sql`SELECT 1`.execute(trx)
      expect(otherCanWrite()).toBe(false)
    })
    database.transaction(() => {
      expect(otherCanWrite()).toBe(false)
    })
    expect(otherCanWrite()).toBe(true)
    other.close()
    database.close()
  })

  it('lets two processes write to one file at once with no errors and no lost rows', async () => {
    const dir = tempDir()
    const path = join(dir, 'hive.db')
    const setup = openDatabase(path)
    setup.sqlite.exec('CREATE TABLE log (writer TEXT NOT NULL, n INTEGER NOT NULL, seen INTEGER NOT NULL)')
    setup.close()
    const startFile = join(dir, 'go')
    const script = join(import.meta.dirname, 'fixtures', 'writer.ts')
    const count = 400
    const writers = ['a', 'b'].map((name) => runChild(script, [path, name, String(count), startFile]))
    await new Promise((resolve) => setTimeout(resolve, 800)) // both are up and waiting
    writeFileSync(startFile, '')
    const results = await Promise.all(writers)
    for (const result of results) {
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout).toBe('done\n')
    }
    const check = openDatabase(path)
    const rows = check.sqlite
      .prepare('SELECT writer, count(*) AS c, count(DISTINCT n) AS d FROM log GROUP BY writer')
      .all()
    expect(rows).toEqual([
      { writer: 'a', c: count, d: count },
      { writer: 'b', c: count, d: count },
    ])
    // Every transaction saw a distinct committed total: they were serialised, none interleaved.
    expect(check.sqlite.prepare('SELECT count(DISTINCT seen) FROM log').pluck().get()).toBe(2 * count)
    check.close()
  }, 60_000)
})

describe('synchronous transactions', () => {
  it('nest as savepoints, and refuse to join a transaction they did not open', async () => {
    const database = openDatabase<{ t: { x: number } }>(join(tempDir(), 'hive.db'))
    database.sqlite.exec('CREATE TABLE t (x INTEGER)')
    database.transaction(() => {
      database.sqlite.exec('INSERT INTO t VALUES (1)')
      expect(() =>
        database.transaction(() => {
          database.sqlite.exec('INSERT INTO t VALUES (2)')
          throw new Error('inner fails')
        }),
      ).toThrow('inner fails')
    })
    expect(database.sqlite.prepare('SELECT x FROM t').pluck().all()).toEqual([1])
    await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ x: 3 }).execute()
      expect(() => database.transaction(() => database.sqlite.exec('INSERT INTO t VALUES (4)'))).toThrow(
        expect.objectContaining({ code: 'CONFLICT' }),
      )
    })
    expect(database.sqlite.prepare('SELECT x FROM t ORDER BY x').pluck().all()).toEqual([1, 3])
    database.close()
  })
})

describe('the accept hook', () => {
  it('sees an existing file before anything is written, and a refusal leaves it as it was', () => {
    const path = join(tempDir(), 'theirs.db')
    const theirs = new Sqlite(path)
    theirs.exec("CREATE TABLE notes (x); INSERT INTO notes VALUES ('theirs')") // rollback-journal mode
    theirs.close()
    const before = sha256File(path)
    const seen: unknown[] = []
    expect(() =>
      openDatabase(path, {
        applicationId: 0x48495645,
        accept: (info) => {
          seen.push(info)
          throw new HiveStorageError('NOT_A_HIVE_DATABASE', 'not ours')
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'NOT_A_HIVE_DATABASE' }))
    expect(seen).toEqual([{ path, applicationId: 0, tables: ['notes'] }])
    expect(sha256File(path)).toBe(before)
    expect(existsSync(`${path}-wal`)).toBe(false)
  })

  it('is not asked about a new file', () => {
    let asked = false
    openDatabase(join(tempDir(), 'new.db'), {
      accept: () => {
        asked = true
      },
    }).close()
    expect(asked).toBe(false)
  })

  it('read-only opening creates no directory', () => {
    const root = tempDir()
    expect(() => openDatabase(join(root, 'missing', 'hive.db'), { readonly: true })).toThrow(
      expect.objectContaining({ code: 'DATA_DIR_UNUSABLE' }),
    )
    expect(readdirSync(root)).toEqual([])
  })
})

describe('a full disk', () => {
  it('is DISK_FULL, and the transaction that hit it leaves nothing', () => {
    const database = openDatabase(join(tempDir(), 'hive.db'))
    database.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
    // The database may not grow past its current size: as good as a full disk, without one.
    const pages = Number(database.sqlite.pragma('page_count', { simple: true }))
    database.sqlite.pragma(`max_page_count = ${pages + 2}`)
    const insert = database.sqlite.prepare('INSERT INTO t (body) VALUES (?)')
    let thrown: unknown
    try {
      database.transaction(() => {
        for (let i = 0; i < 100; i++) insert.run('x'.repeat(4000))
      })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toMatchObject({ code: 'DISK_FULL', message: expect.stringContaining('the disk is full') })
    expect(database.sqlite.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0)
    database.close()
  })
})
