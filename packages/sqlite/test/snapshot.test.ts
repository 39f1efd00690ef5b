import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { sha256File, tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { openDatabase, restoreDatabase, snapshotDatabase } from '../src/index.js'

function setup() {
  const dir = tempDir()
  const path = join(dir, 'hive.db')
  const database = openDatabase(path)
  database.sqlite.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
    WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 1000) INSERT INTO t SELECT value, 'v' || value FROM g;`)
  return { dir, path, database }
}

const count = (database: ReturnType<typeof openDatabase>) =>
  database.sqlite.prepare('SELECT count(*) FROM t').pluck().get()

describe('snapshotDatabase', () => {
  it('writes a consistent private copy while the database stays open, even mid-transaction', () => {
    const { dir, path, database } = setup()
    database.sqlite.exec("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('uncommitted')")
    const result = snapshotDatabase(path, join(dir, 'snap.db'))
    database.sqlite.exec('ROLLBACK')
    expect(result.bytes).toBe(statSync(join(dir, 'snap.db')).size)
    expect(statSync(result.path).mode & 0o777).toBe(0o600)
    const copy = openDatabase(result.path, { create: false })
    expect(count(copy)).toBe(1000)
    copy.close()
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([])
    database.close()
  })

  it('refuses to overwrite an existing file and leaves it as it was', () => {
    const { dir, path, database } = setup()
    writeFileSync(join(dir, 'snap.db'), 'precious')
    expect(() => snapshotDatabase(path, join(dir, 'snap.db'))).toThrow(
      expect.objectContaining({ code: 'SNAPSHOT_FAILED' }),
    )
    expect(readFileSync(join(dir, 'snap.db'), 'utf8')).toBe('precious')
    database.close()
  })

  it('fails with a typed error for a source that is not a database, leaving no temp file', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'bad.db'), 'not a database'.repeat(100))
    expect(() => snapshotDatabase(join(dir, 'bad.db'), join(dir, 'snap.db'))).toThrow(
      expect.objectContaining({ code: 'SNAPSHOT_FAILED' }),
    )
    expect(readdirSync(dir)).toEqual(['bad.db'])
  })
})

describe('restoreDatabase', () => {
  it('brings back the snapshot while other connections stay open, keeping WAL mode', async () => {
    const { dir, path, database } = setup()
    snapshotDatabase(path, join(dir, 'snap.db'))
    database.sqlite.exec('DELETE FROM t WHERE id > 10; CREATE TABLE later (x)')
    expect(count(database)).toBe(10)
    await restoreDatabase(join(dir, 'snap.db'), path)
    // The open connection sees the restored content and schema.
    expect(count(database)).toBe(1000)
    expect(
      database.sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'later'").pluck().get(),
    ).toBe(0)
    expect(database.sqlite.pragma('journal_mode', { simple: true })).toBe('wal')
    database.close()
    const reopened = openDatabase(path)
    expect(count(reopened)).toBe(1000)
    reopened.close()
  })

  it('refuses a damaged snapshot and leaves the live database untouched', async () => {
    const { dir, path, database } = setup()
    database.sqlite.exec(
      'WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 2000) INSERT INTO t (v) SELECT hex(randomblob(500)) FROM g',
    )
    snapshotDatabase(path, join(dir, 'snap.db'))
    const size = statSync(join(dir, 'snap.db')).size
    const fd = openSync(join(dir, 'snap.db'), 'r+')
    writeSync(fd, Buffer.alloc(16 * 4096, 0x33), 0, 16 * 4096, Math.floor(size / 2 / 4096) * 4096)
    closeSync(fd)
    database.close()
    const before = sha256File(path)
    await expect(restoreDatabase(join(dir, 'snap.db'), path)).rejects.toMatchObject({
      code: 'SNAPSHOT_FAILED',
    })
    expect(sha256File(path)).toBe(before)
    await expect(restoreDatabase(join(dir, 'absent.db'), path)).rejects.toMatchObject({
      code: 'SNAPSHOT_FAILED',
    })
    expect(existsSync(join(dir, 'absent.db'))).toBe(false)
  })
})
