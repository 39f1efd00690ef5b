import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { FolderMigrationSource } from '@hive/migrations'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { DataDirMigrations, defaultDataDir, ensureDataDir, SnapshotStore } from '../src/index.js'

const kysely = pathToFileURL(
  createRequire(import.meta.url)
    .resolve('kysely')
    .replace('/dist/cjs/', '/dist/esm/'),
).href

function migration(folder: string, name: string, up: string[], down: string) {
  writeFileSync(
    join(folder, `${name}.mjs`),
    `import { sql } from ${JSON.stringify(kysely)}
export async function up(db) { for (const s of ${JSON.stringify(up)}) await sql.raw(s).execute(db) }
export async function down(db) { ${down} }
`,
  )
}

describe('DataDirMigrations', () => {
  it('rolls back, through its snapshot, a migration whose down cannot undo it', async () => {
    const dataDir = tempDir()
    const folder = join(dataDir, 'migrations')
    mkdirSync(folder)
    migration(
      folder,
      '0001_notes',
      ['CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)'],
      'await sql`DROP TABLE notes`.execute(db)',
    )
    const source = new FolderMigrationSource({ folder })
    const first = DataDirMigrations.open({ dataDir, createDatabase: true, source })
    expect((await first.up()).ok).toBe(true)
    first.database.sqlite.exec("INSERT INTO notes (body) VALUES ('a note worth keeping'), ('another')")
    first.close()

    // 0002 drops a column and its data: its down cannot bring the data back.
    migration(
      folder,
      '0002_drop_body',
      ['ALTER TABLE notes DROP COLUMN body'],
      "throw new Error('0002_drop_body cannot be undone: the column held data')",
    )
    const migrations = DataDirMigrations.open({ dataDir, source })
    const applied = await migrations.up()
    expect(applied.ok).toBe(true)
    const snapshot = applied.beforeChange as { name: string; version: string }
    expect(snapshot.version).toBe('0001_notes')
    expect(migrations.database.sqlite.prepare('SELECT * FROM notes').all()).toEqual([{ id: 1 }, { id: 2 }])

    const down = await migrations.down()
    expect(down.ok).toBe(false)
    expect(down.error?.message).toContain('cannot be undone')

    const restored = await DataDirMigrations.restore({ dataDir, source })
    expect(restored.restored.name).toBe(snapshot.name)
    expect(restored.status.current).toBe('0001_notes')
    expect(restored.status.pending).toEqual(['0002_drop_body'])
    // The same open connection sees the data again.
    expect(migrations.database.sqlite.prepare('SELECT body FROM notes ORDER BY id').pluck().all()).toEqual([
      'a note worth keeping',
      'another',
    ])
    migrations.close()
  })

  it('verify finds schema objects changed outside migrations', async () => {
    const dataDir = tempDir()
    const migrations = DataDirMigrations.open({ dataDir, createDatabase: true })
    await migrations.up()
    expect((await migrations.verify()).ok).toBe(true)
    migrations.database.sqlite.exec('DROP INDEX events_type_created; CREATE INDEX my_own ON cells (name)')
    const report = await migrations.verify()
    expect(report.ok).toBe(false)
    expect(report.schema).toEqual([
      { object: 'index events_type_created', problem: 'missing' },
      { object: 'index my_own', problem: 'unexpected' },
    ])
    migrations.close()
  })

  it('rejects a nonsensical snapshot count', () => {
    expect(() =>
      DataDirMigrations.open({ dataDir: tempDir(), createDatabase: true, keepSnapshots: -1 }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }))
  })
})

describe('SnapshotStore', () => {
  it('names snapshots so they sort by time, and never reuses a name', () => {
    const dataDir = tempDir()
    const migrations = DataDirMigrations.open({ dataDir, createDatabase: true })
    migrations.close()
    const store = new SnapshotStore({
      dir: join(dataDir, 'snapshots'),
      now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    })
    const a = store.take(join(dataDir, 'hive.db'), 'manual', null)
    const b = store.take(join(dataDir, 'hive.db'), 'manual', null)
    expect(a.name).toBe('20260102T030405006Z-manual-empty.db')
    expect(b.name).toBe('20260102T030405007Z-manual-empty.db')
    expect(store.list().map((s) => [s.name, s.takenAt])).toEqual([
      [a.name, Date.UTC(2026, 0, 2, 3, 4, 5, 6)],
      [b.name, Date.UTC(2026, 0, 2, 3, 4, 5, 7)],
    ])
    expect(store.prune('manual', 1)).toEqual([a.name])
    expect(store.find(undefined, 'manual').name).toBe(b.name)
  })
})

describe('defaultDataDir', () => {
  it('follows HIVE_DATA_DIR, then XDG, then the platform convention', () => {
    expect(defaultDataDir({ HIVE_DATA_DIR: '/srv/hive' }, 'linux', '/home/u')).toEqual({
      path: '/srv/hive',
      explicit: true,
    })
    expect(defaultDataDir({ XDG_DATA_HOME: '/x' }, 'linux', '/home/u')).toEqual({
      path: '/x/hive',
      explicit: false,
    })
    expect(defaultDataDir({}, 'linux', '/home/u').path).toBe('/home/u/.local/share/hive')
    expect(defaultDataDir({}, 'darwin', '/Users/u').path).toBe('/Users/u/Library/Application Support/hive')
  })
})

describe('ensureDataDir', () => {
  it('refuses a file where the directory should be', () => {
    const root = tempDir()
    writeFileSync(join(root, 'file'), '')
    expect(() => ensureDataDir(join(root, 'file'), { create: true, writable: true })).toThrow(
      expect.objectContaining({ code: 'DATA_DIR_UNUSABLE' }),
    )
  })
})
