import { closeSync, openSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { foreignKeyCheck, integrityCheck, openDatabase, quickCheck, ReadPool } from '../src/index.js'

function populated(path: string) {
  const database = openDatabase(path)
  database.sqlite.exec(`
    CREATE TABLE parent (id INTEGER PRIMARY KEY);
    CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), body TEXT);
    CREATE INDEX child_body ON child (body);
    WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 10) INSERT INTO parent SELECT value FROM g;
    WITH RECURSIVE g(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM g WHERE value < 5000) INSERT INTO child SELECT value, 1 + value % 10, hex(randomblob(200)) FROM g;
  `)
  return database
}

describe('integrity checks', () => {
  it('report a healthy database as ok', () => {
    const database = populated(join(tempDir(), 'hive.db'))
    expect(quickCheck(database.sqlite)).toEqual({ ok: true, problems: [] })
    expect(integrityCheck(database.sqlite)).toEqual({ ok: true, problems: [] })
    expect(foreignKeyCheck(database.sqlite)).toEqual({ ok: true, violations: [] })
    database.close()
  })

  it('list rows whose parent is missing', () => {
    const database = populated(join(tempDir(), 'hive.db'))
    database.sqlite.pragma('foreign_keys = OFF')
    database.sqlite.exec('DELETE FROM parent WHERE id = 3')
    const result = foreignKeyCheck(database.sqlite)
    expect(result.ok).toBe(false)
    expect(result.violations).toHaveLength(500)
    expect(result.violations[0]).toMatchObject({ table: 'child', parent: 'parent', foreignKeyIndex: 0 })
    database.close()
  })

  it('find damage in the file', () => {
    const path = join(tempDir(), 'hive.db')
    populated(path).close()
    // Overwrite a stretch of pages in the middle of the file with garbage.
    const size = statSync(path).size
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.alloc(8 * 4096, 0x5a), 0, 8 * 4096, Math.floor(size / 2 / 4096) * 4096)
    closeSync(fd)
    const database = openDatabase(path)
    const quick = quickCheck(database.sqlite, { maxErrors: 5 })
    expect(quick.ok).toBe(false)
    expect(quick.problems.length).toBeGreaterThan(0)
    expect(quick.problems.length).toBeLessThanOrEqual(5)
    expect(integrityCheck(database.sqlite).ok).toBe(false)
    database.close()
  })

  it('rejects a nonsensical error limit', () => {
    const database = populated(join(tempDir(), 'hive.db'))
    expect(() => quickCheck(database.sqlite, { maxErrors: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    )
    database.close()
  })

  it('run in a read pool with the same findings, off the event loop', async () => {
    const path = join(tempDir(), 'hive.db')
    const database = populated(path)
    const pool = new ReadPool({ path, size: 1 })
    expect(await pool.quickCheck()).toEqual({ ok: true, problems: [] })
    expect(await pool.integrityCheck()).toEqual({ ok: true, problems: [] })
    expect(await pool.foreignKeyCheck()).toEqual({ ok: true, violations: [] })
    database.sqlite.pragma('foreign_keys = OFF')
    database.sqlite.exec('DELETE FROM parent WHERE id = 3')
    expect(await pool.foreignKeyCheck()).toEqual(foreignKeyCheck(database.sqlite))
    expect((await pool.foreignKeyCheck()).violations).toHaveLength(500)
    await expect(pool.quickCheck({ maxErrors: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await pool.close()
    await expect(pool.quickCheck()).rejects.toMatchObject({ code: 'DATABASE_ERROR' })
    database.close()

    const fd = openSync(path, 'r+')
    const size = statSync(path).size
    writeSync(fd, Buffer.alloc(8 * 4096, 0x5a), 0, 8 * 4096, Math.floor(size / 2 / 4096) * 4096)
    closeSync(fd)
    const damaged = new ReadPool({ path, size: 1 })
    const quick = await damaged.quickCheck({ maxErrors: 5 })
    expect(quick.ok).toBe(false)
    expect(quick.problems.length).toBeGreaterThan(0)
    expect(quick.problems.length).toBeLessThanOrEqual(5)
    expect((await damaged.integrityCheck()).ok).toBe(false)
    await damaged.close()
  })
})
