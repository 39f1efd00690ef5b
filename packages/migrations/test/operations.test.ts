import { join } from 'node:path'
import { openDatabase } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { hiveMigrations, Migrator } from '../src/index.js'

const V3 = '0003_transcript_artifacts'
const V4 = '0004_operations'

describe('migration 0004_operations', () => {
  it('adds operations and leases with their checks, and goes down to exactly the schema of 0003', async () => {
    const database = openDatabase(join(tempDir(), 'hive.db'))
    const db = database.sqlite
    const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
    expect((await migrator.up({ to: V3 })).ok).toBe(true)
    const schema = () =>
      db
        .prepare(
          "SELECT type, name, sql FROM sqlite_master WHERE name <> 'hive_migrations' ORDER BY type, name",
        )
        .all()
    const v3 = schema()
    expect((await migrator.up({ to: V4 })).ok).toBe(true)
    const insert = db.prepare(
      'INSERT INTO operations (id, kind, state, done, pid, host, started_at, heartbeat_at, result) VALUES (?, ?, ?, ?, 1, ?, 1, 1, ?)',
    )
    insert.run('op_1', 'gc', 'running', 0, 'h', null)
    expect(() => insert.run('op_2', 'gc', 'paused', 0, 'h', null)).toThrow(/CHECK/)
    expect(() => insert.run('op_3', 'gc', 'running', -1, 'h', null)).toThrow(/CHECK/)
    expect(() => insert.run('op_4', 'gc', 'succeeded', 1, 'h', 'not json')).toThrow(/CHECK/)
    db.prepare("INSERT INTO leases VALUES ('maintenance', 'runner-1', 1, 'h', 1, 1, 2)").run()
    expect(() =>
      db.prepare("INSERT INTO leases VALUES ('maintenance', 'runner-2', 1, 'h', 1, 1, 2)").run(),
    ).toThrow(/UNIQUE/)
    const down = await migrator.down({ steps: 1 })
    expect(down).toMatchObject({ ok: true, to: V3 })
    expect(schema()).toEqual(v3)
    database.close()
  })
})
