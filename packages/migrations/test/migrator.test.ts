import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { checksumSource } from '../src/index.js'
import { fixture, writeMigrations } from './helpers.js'

const A = { up: ['CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)'], down: ['DROP TABLE a'] }
const B = {
  up: ['CREATE TABLE b (id INTEGER PRIMARY KEY)', 'INSERT INTO b VALUES (1)'],
  down: ['DROP TABLE b'],
}
const C = { up: ['ALTER TABLE a ADD COLUMN w TEXT'], down: ['ALTER TABLE a DROP COLUMN w'] }

describe('Migrator.up', () => {
  it('applies pending migrations in name order and records each with its checksum', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0002_b': B, '0001_a': A, '0003_c': C })
    let clock = 1_000
    const result = await f.migrator({ now: () => clock++ }).up()
    expect(result.ok).toBe(true)
    expect(result.from).toBeNull()
    expect(result.to).toBe('0003_c')
    expect(result.results.map((r) => [r.name, r.outcome])).toEqual([
      ['0001_a', 'applied'],
      ['0002_b', 'applied'],
      ['0003_c', 'applied'],
    ])
    const history = f.database.sqlite.prepare('SELECT * FROM hive_migrations ORDER BY name').all() as Array<{
      name: string
      checksum: string
      applied_at: number
      duration_ms: number
    }>
    expect(history.map((row) => row.name)).toEqual(['0001_a', '0002_b', '0003_c'])
    expect(history[0]?.checksum).toBe(checksumSource(readFileSync(join(f.migrations, '0001_a.mjs'), 'utf8')))
    expect(history.map((row) => row.applied_at)).toEqual([1000, 1001, 1002])
    expect(history.every((row) => row.duration_ms >= 0)).toBe(true)
    expect(f.database.sqlite.prepare('SELECT count(*) FROM b').pluck().get()).toBe(1)
  })

  it('does nothing when everything is applied', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    await f.migrator().up()
    const again = await f.migrator().up()
    expect(again).toMatchObject({ ok: true, from: '0001_a', to: '0001_a', results: [] })
  })

  it('stops at --to', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B, '0003_c': C })
    const result = await f.migrator().up({ to: '0002_b' })
    expect(result.results.map((r) => r.name)).toEqual(['0001_a', '0002_b'])
    expect(result.to).toBe('0002_b')
    expect((await f.migrator().status()).pending).toEqual(['0003_c'])
  })

  it('refuses an unknown --to and changes nothing', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    const before = f.files()
    const result = await f.migrator().up({ to: '0009_nope' })
    expect(result.ok).toBe(false)
    expect(result.error?.code).toBe('UNKNOWN_MIGRATION')
    expect(result.error?.message).toContain('0009_nope')
    expect(f.files()).toEqual(before)
  })

  it('rolls a failing migration back completely and runs nothing after it', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    await f.migrator().up()
    f.database.sqlite.exec("INSERT INTO a (v) VALUES ('keep me')")
    writeMigrations(f.migrations, {
      '0002_half': {
        up: ['CREATE TABLE half (x)', "INSERT INTO a (v) VALUES ('half')", 'ALTER TABLE a ADD COLUMN z'],
        upCode: "throw new Error('deliberate failure')",
      },
      '0003_c': C,
    })
    const before = f.schema()
    const rows = f.database.sqlite.prepare('SELECT * FROM a').all()
    const result = await f.migrator().up()
    expect(result.ok).toBe(false)
    expect(result.error?.code).toBe('MIGRATION_FAILED')
    expect(result.error?.message).toContain('0002_half')
    expect(result.error?.message).toContain('deliberate failure')
    expect(result.results.map((r) => [r.name, r.outcome])).toEqual([
      ['0002_half', 'failed'],
      ['0003_c', 'not-run'],
    ])
    expect(result.to).toBe('0001_a')
    expect(f.schema()).toEqual(before)
    expect(f.database.sqlite.prepare('SELECT * FROM a').all()).toEqual(rows)
  })

  it('turns a failing SQL statement into a failed result, not a throw', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_bad': { up: ['CREATE TABLE ok (x)', 'CREATE TABLEX nonsense'] } })
    const result = await f.migrator().up()
    expect(result.ok).toBe(false)
    expect(result.results[0]?.outcome).toBe('failed')
    expect(result.error?.cause).toBeDefined()
    expect(f.schema()).toEqual({ objects: [], history: [] })
  })

  it('prints the SQL of a dry run and changes nothing on disk', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B })
    f.database.checkpoint('truncate')
    const before = f.files()
    const result = await f.migrator().up({ dryRun: true })
    expect(result.ok).toBe(true)
    expect(result.dryRun).toBe(true)
    expect(result.results.map((r) => [r.name, r.outcome])).toEqual([
      ['0001_a', 'dry-run'],
      ['0002_b', 'dry-run'],
    ])
    expect(result.results[0]?.sql).toEqual(['CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);'])
    expect(result.results[1]?.sql).toEqual([
      'CREATE TABLE b (id INTEGER PRIMARY KEY);',
      'INSERT INTO b VALUES (1);',
    ])
    expect(f.schema()).toEqual({ objects: [], history: [] })
    expect(f.files()).toEqual(before)
  })

  it('calls beforeChange once, with the plan, before the first change, and returns what it gave', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B })
    const calls: unknown[] = []
    const result = await f
      .migrator({
        beforeChange: (change) => {
          calls.push(change)
          // It sees the database as it is before any change.
          expect(
            f.database.sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'a'").pluck().get(),
          ).toBe(0)
          return { snapshot: 'x.db' }
        },
      })
      .up()
    expect(calls).toEqual([{ direction: 'up', current: null, migrations: ['0001_a', '0002_b'] }])
    expect(result.beforeChange).toEqual({ snapshot: 'x.db' })
    const none = await f.migrator({ beforeChange: () => calls.push('again') }).up()
    expect(none.ok).toBe(true)
    expect(calls).toHaveLength(1) // nothing to do: no snapshot either
  })

  it('snapshots again under the lock when another connection committed after the first snapshot', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    await f.migrator().up()
    writeMigrations(f.migrations, { '0002_b': B })
    const other = new Sqlite(f.path)
    const seen: number[] = []
    const result = await f
      .migrator({
        beforeChange: () => {
          const count = other.prepare('SELECT count(*) FROM a').pluck().get() as number
          seen.push(count)
          // The first call's write comes after its snapshot: the migrator must take another.
          if (seen.length === 1) other.exec("INSERT INTO a (v) VALUES ('late')")
          return { snapshot: seen.length }
        },
      })
      .up()
    other.close()
    expect(result.error).toBeUndefined()
    expect(seen).toEqual([0, 1])
    expect(result.beforeChange).toEqual({ snapshot: 2 })
  })

  it('reports a migration whose COMMIT fails as failed, naming it, with nothing applied', async () => {
    const f = fixture()
    writeMigrations(f.migrations, {
      '0001_a': A,
      '0002_deferred': {
        up: [
          'CREATE TABLE parent (id INTEGER PRIMARY KEY)',
          'CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)',
          'INSERT INTO child VALUES (42)',
        ],
      },
    })
    const result = await f.migrator().up()
    expect(result.ok).toBe(false)
    expect(result.error?.code).toBe('MIGRATION_FAILED')
    expect(result.error?.message).toContain('0002_deferred')
    expect(result.results.map((r) => [r.name, r.outcome])).toEqual([
      ['0001_a', 'applied'],
      ['0002_deferred', 'failed'],
    ])
    expect(result.to).toBe('0001_a')
    expect((await f.migrator().status()).current).toBe('0001_a')
    expect(
      f.database.sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'child'").pluck().get(),
    ).toBe(0)
  })

  it('changes nothing when beforeChange fails', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    const result = await f
      .migrator({
        beforeChange: () => {
          throw new Error('disk full')
        },
      })
      .up()
    expect(result.ok).toBe(false)
    expect(result.error?.message).toContain('disk full')
    expect(result.results.map((r) => r.outcome)).toEqual(['not-run'])
    expect(f.schema()).toEqual({ objects: [], history: [] })
  })
})

describe('Migrator refusals', () => {
  it('refuses when an applied migration was modified, naming it, and runs after a re-baseline', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    await f.migrator().up()
    writeMigrations(f.migrations, { '0001_a': { ...A, up: [...A.up, '-- a comment'] }, '0002_b': B })
    const before = f.files()
    const status = await f.migrator().status()
    expect(status.entries.map((e) => [e.name, e.state])).toEqual([
      ['0001_a', 'modified'],
      ['0002_b', 'pending'],
    ])
    const refused = await f.migrator().up()
    expect(refused.ok).toBe(false)
    expect(refused.error?.code).toBe('MIGRATION_MODIFIED')
    expect(refused.error?.message).toContain('0001_a')
    expect(f.files()).toEqual(before)

    const rebased = await f.migrator().up({ rebaseline: true })
    expect(rebased.ok).toBe(true)
    expect(rebased.results.map((r) => [r.name, r.outcome])).toEqual([
      ['0001_a', 'rebaselined'],
      ['0002_b', 'applied'],
    ])
    expect((await f.migrator().verify()).ok).toBe(true)
  })

  it('refuses when an applied migration is missing, and forgets it on re-baseline', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B, '0003_c': C })
    await f.migrator().up()
    rmSync(join(f.migrations, '0002_b.mjs'))
    const before = f.files()
    const refused = await f.migrator().up()
    expect(refused.error?.code).toBe('MIGRATION_MISSING')
    expect(refused.error?.message).toContain('0002_b')
    expect(f.files()).toEqual(before)
    expect((await f.migrator().verify()).ok).toBe(false)
    const rebased = await f.migrator().up({ rebaseline: true })
    expect(rebased.ok).toBe(true)
    expect((await f.migrator().status()).entries.map((e) => e.name)).toEqual(['0001_a', '0003_c'])
  })

  it('refuses a database migrated by newer code and leaves it untouched', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B })
    await f.migrator().up()
    rmSync(join(f.migrations, '0002_b.mjs'))
    writeMigrations(f.migrations, { '0001_a': A })
    const before = f.files()
    for (const result of [
      await f.migrator().up(),
      await f.migrator().up({ rebaseline: true }),
      await f.migrator().down(),
    ]) {
      expect(result.ok).toBe(false)
      expect(result.error?.code).toBe('DATABASE_TOO_NEW')
      expect(result.error?.message).toContain('0002_b')
    }
    const status = await f.migrator().status()
    expect(status.entries.find((e) => e.name === '0002_b')?.state).toBe('newer')
    expect(f.files()).toEqual(before)
  })

  it('refuses a database of something else (tables, no history) and leaves it untouched', async () => {
    const f = fixture()
    f.database.sqlite.exec("CREATE TABLE theirs (x); INSERT INTO theirs VALUES ('theirs')")
    f.database.checkpoint('truncate')
    writeMigrations(f.migrations, { '0001_a': A })
    const before = f.files()
    const result = await f.migrator().up()
    expect(result.error?.code).toBe('NOT_A_HIVE_DATABASE')
    expect(f.files()).toEqual(before)
    expect(
      f.database.sqlite
        .prepare("SELECT count(*) FROM sqlite_master WHERE name = 'hive_migrations'")
        .pluck()
        .get(),
    ).toBe(0)
  })

  it('refuses a pending migration that sorts before an applied one', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0003_c': C })
    await f.migrator().up()
    writeMigrations(f.migrations, { '0002_b': B })
    const result = await f.migrator().up()
    expect(result.error?.code).toBe('CONFLICT')
    expect(result.error?.message).toContain('0002_b')
  })

  it('reports a source with badly named or malformed migrations as invalid input', async () => {
    const f = fixture()
    writeFileSync(join(f.migrations, '0001_broken.mjs'), 'export const up = 1\n')
    const result = await f.migrator().up()
    expect(result.ok).toBe(false)
    expect(result.error?.code).toBe('INVALID_INPUT')
    expect(result.error?.message).toContain('0001_broken')
  })
})

describe('Migrator.down', () => {
  it('reverts the newest migrations one transaction each', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B, '0003_c': C })
    await f.migrator().up()
    const result = await f.migrator().down({ steps: 2 })
    expect(result.ok).toBe(true)
    expect(result.results.map((r) => [r.name, r.outcome])).toEqual([
      ['0003_c', 'reverted'],
      ['0002_b', 'reverted'],
    ])
    expect(result.from).toBe('0003_c')
    expect(result.to).toBe('0001_a')
    expect(
      f.database.sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b')")
        .pluck()
        .all(),
    ).toEqual(['a'])
    expect(
      f.database.sqlite.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get('a'),
    ).not.toContain('w TEXT')
  })

  it('reverts one by default and shows a dry run without changing anything', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A, '0002_b': B })
    await f.migrator().up()
    f.database.checkpoint('truncate')
    const before = f.files()
    const dry = await f.migrator().down({ dryRun: true })
    expect(dry.results).toMatchObject([{ name: '0002_b', outcome: 'dry-run', sql: ['DROP TABLE b;'] }])
    expect(f.files()).toEqual(before)
    const real = await f.migrator().down()
    expect(real.results.map((r) => r.name)).toEqual(['0002_b'])
  })

  it('does nothing, not even create its history table, on a database with nothing applied', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    const result = await f.migrator().down()
    expect(result).toMatchObject({ ok: true, results: [] })
    expect(f.schema()).toEqual({ objects: [], history: [] })
  })

  it('rejects a nonsensical step count', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': A })
    await f.migrator().up()
    for (const steps of [0, -1, 1.5]) {
      const result = await f.migrator().down({ steps })
      expect(result.error?.code).toBe('INVALID_INPUT')
    }
    expect((await f.migrator().status()).current).toBe('0001_a')
  })

  it('keeps the migration applied when its down fails', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_a': { ...A, downCode: "throw new Error('cannot undo')" } })
    await f.migrator().up()
    const result = await f.migrator().down()
    expect(result.ok).toBe(false)
    expect(result.error?.code).toBe('MIGRATION_FAILED')
    expect((await f.migrator().status()).current).toBe('0001_a')
    expect(
      f.database.sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'a'").pluck().get(),
    ).toBe(1)
  })
})

describe('migrations with foreign keys off', () => {
  const parent = {
    up: [
      'CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)',
      'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE)',
      "INSERT INTO parent VALUES (1, 'one')",
      'INSERT INTO child VALUES (10, 1)',
    ],
  }

  it('rebuild a parent table without cascading deletes into its children', async () => {
    const f = fixture()
    writeMigrations(f.migrations, {
      '0001_parent': parent,
      '0002_rebuild': {
        foreignKeys: 'off',
        up: [
          "CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '')",
          'INSERT INTO parent_new SELECT id, name FROM parent',
          'DROP TABLE parent',
          'ALTER TABLE parent_new RENAME TO parent',
        ],
      },
    })
    const result = await f.migrator().up()
    expect(result.ok).toBe(true)
    expect(f.database.sqlite.prepare('SELECT count(*) FROM child').pluck().get()).toBe(1)
    expect(f.database.sqlite.pragma('foreign_keys', { simple: true })).toBe(1)
  })

  it('dry-run the same way they run: foreign keys off, rolled back, pragmas shown', async () => {
    const f = fixture()
    writeMigrations(f.migrations, { '0001_parent': parent })
    await f.migrator().up()
    writeMigrations(f.migrations, {
      '0002_rebuild': {
        foreignKeys: 'off',
        up: [
          'CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT)',
          'INSERT INTO parent_new SELECT id, name FROM parent',
          'DROP TABLE parent',
          'ALTER TABLE parent_new RENAME TO parent',
        ],
      },
    })
    const before = f.schema()
    const dry = await f.migrator().up({ dryRun: true })
    expect(dry.ok).toBe(true)
    expect(dry.results[0]?.sql[0]).toMatch(/^PRAGMA foreign_keys = OFF/)
    expect(dry.results[0]?.sql).toContain('DROP TABLE parent;')
    expect(f.schema()).toEqual(before)
    expect(f.database.sqlite.prepare('SELECT count(*) FROM child').pluck().get()).toBe(1)
    expect(f.database.sqlite.pragma('foreign_keys', { simple: true })).toBe(1)
  })

  it('fail and roll back when they leave rows without a parent', async () => {
    const f = fixture()
    writeMigrations(f.migrations, {
      '0001_parent': parent,
      '0002_orphans': { foreignKeys: 'off', up: ['DELETE FROM parent'] },
    })
    const result = await f.migrator().up()
    expect(result.ok).toBe(false)
    expect(result.error?.message).toContain('missing parent')
    expect(f.database.sqlite.prepare('SELECT count(*) FROM parent').pluck().get()).toBe(1)
    expect(f.database.sqlite.pragma('foreign_keys', { simple: true })).toBe(1)
    expect((await f.migrator().status()).current).toBe('0001_parent')
  })
})
